# SPDX-License-Identifier: Apache-2.0
# Hardening of everything the project compiles and links (library, programs, tests):
#   -fstack-protector-strong       canaries in functions with arrays or address-taken locals
#   -D_FORTIFY_SOURCE=2            checked memcpy/snprintf/read/... (__*_chk), optimised builds
#                                  without sanitizers only: glibc warns without optimisation,
#                                  and ASan intercepts these calls itself
#   PIE                            CMAKE_POSITION_INDEPENDENT_CODE + check_pie_supported():
#                                  executables are ET_DYN, fully randomised
#   -Wl,-z,relro -Wl,-z,now        GOT read-only after start-up, every symbol bound at load
#   -Wl,-z,noexecstack             never an executable stack (BLAKE3's .S files included)
#   -fstack-clash-protection, -fcf-protection (x86)   where the compiler has them;
#                                  -fcf-protection for the assembly (.S) too
# The test build.hardening (scripts/check-hardening.sh) reads the built binaries with readelf
# so that losing any of these fails.
include(CheckCCompilerFlag)
include(CheckPIESupported)

option(CAPV_HARDENING "Compile and link with hardening flags (docs/building.md)" ON)

# Whether this configuration gets _FORTIFY_SOURCE; the hardening test expects __*_chk
# imports exactly then.
set(CAPV_FORTIFY OFF)

if(CAPV_HARDENING)
    check_pie_supported(OUTPUT_VARIABLE _capv_pie_msg LANGUAGES C)
    if(NOT CMAKE_C_LINK_PIE_SUPPORTED)
        message(WARNING "PIE is not supported by this toolchain: ${_capv_pie_msg}")
    endif()

    add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fstack-protector-strong>)
    foreach(_flag -fstack-clash-protection -fcf-protection)
        string(MAKE_C_IDENTIFIER "CAPV_HAS${_flag}" _var)
        check_c_compiler_flag(${_flag} ${_var})
        if(${_var})
            add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:${_flag}>)
        endif()
    endforeach()
    # The BLAKE3 .S files (cmake/FindBLAKE3Sources.cmake) too: with it the compiler driver
    # defines __CET__, so they include <cet.h>, which puts ENDBR64 at their entry points and
    # marks the object IBT/SHSTK-compatible. The linker keeps a GNU property only when every
    # input has it: one unmarked object drops IBT and SHSTK from the whole library.
    if(CAPV_HAS_fcf_protection)
        add_compile_options($<$<COMPILE_LANGUAGE:ASM>:-fcf-protection>)
    endif()

    string(TOUPPER "${CMAKE_BUILD_TYPE}" _capv_bt)
    if(_capv_bt MATCHES "^(RELEASE|RELWITHDEBINFO|MINSIZEREL)$" AND NOT CAPV_SANITIZE
       AND NOT CAPV_FUZZ)
        set(CAPV_FORTIFY ON)
        # -U first: a _FORTIFY_SOURCE from the environment's CFLAGS would be "redefined".
        add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-U_FORTIFY_SOURCE>
                            $<$<COMPILE_LANGUAGE:C,CXX>:-D_FORTIFY_SOURCE=2>)
    endif()

    add_link_options(LINKER:-z,relro LINKER:-z,now LINKER:-z,noexecstack)
endif()
