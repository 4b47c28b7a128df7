# SPDX-License-Identifier: Apache-2.0
# capv_install_rpath(TARGET DESTINATION RPATH): at install time, set the RPATH (or RUNPATH) of
# the installed TARGET (installed into DESTINATION) to RPATH, a tail of the target's
# INSTALL_RPATH. The programs link with BUILD_WITH_INSTALL_RPATH and an INSTALL_RPATH made of
# their build-tree entries followed by their install-tree entries, so the build tree never needs
# CMake's rewrite, which pads the build RPATH with ':' (an empty entry: the loader searches the
# current directory); the installed copy keeps only the install-tree entries. file(RPATH_CHANGE)
# writes the shorter string in place and fills the rest with NUL bytes, and accepts a file that
# already has the new RPATH (an up-to-date install). docs/tls.md, "The OpenSSL 3 compat library".
include_guard(GLOBAL)

function(capv_install_rpath target destination rpath)
    get_target_property(_old ${target} INSTALL_RPATH)
    get_target_property(_bwir ${target} BUILD_WITH_INSTALL_RPATH)
    if(NOT _bwir)
        message(FATAL_ERROR "capv_install_rpath(${target}): needs BUILD_WITH_INSTALL_RPATH ON")
    endif()
    string(LENGTH "${rpath}" _len)
    string(LENGTH "${_old}" _old_len)
    math(EXPR _start "${_old_len} - ${_len}")
    if(_start LESS 0)
        message(FATAL_ERROR "capv_install_rpath(${target}): '${rpath}' is not a tail of '${_old}'")
    endif()
    string(SUBSTRING "${_old}" ${_start} -1 _tail)
    if(NOT _tail STREQUAL rpath)
        message(FATAL_ERROR "capv_install_rpath(${target}): '${rpath}' is not a tail of '${_old}'")
    endif()
    # CMAKE_SKIP_RPATH / CMAKE_SKIP_INSTALL_RPATH: the binaries carry no RPATH (the packager
    # wants none), and file(RPATH_CHANGE) of one that has no OLD_RPATH fails the install.
    if(CMAKE_SKIP_RPATH OR CMAKE_SKIP_INSTALL_RPATH)
        return()
    endif()
    if(IS_ABSOLUTE "${destination}")
        set(_dir "${destination}")
    else()
        set(_dir "\${CMAKE_INSTALL_PREFIX}/${destination}")
    endif()
    install(CODE "file(RPATH_CHANGE
        FILE \"\$ENV{DESTDIR}${_dir}/$<TARGET_FILE_NAME:${target}>\"
        OLD_RPATH \"${_old}\" NEW_RPATH \"${rpath}\")")
endfunction()
