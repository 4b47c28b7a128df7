# SPDX-License-Identifier: Apache-2.0
# Finds CivetWeb (Debian: libcivetweb-dev), which only the daemon uses. Sets CivetWeb_FOUND,
# CIVETWEB_INCLUDE_DIR and CIVETWEB_LIBRARY. A find module (not two bare find_* calls) so that
# -DCMAKE_DISABLE_FIND_PACKAGE_CivetWeb=ON can prove a library-only build never looks for it
# (test build.library_only).
find_path(CIVETWEB_INCLUDE_DIR civetweb.h)
find_library(CIVETWEB_LIBRARY NAMES civetweb)
mark_as_advanced(CIVETWEB_INCLUDE_DIR CIVETWEB_LIBRARY)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CivetWeb
    REQUIRED_VARS CIVETWEB_LIBRARY CIVETWEB_INCLUDE_DIR
    REASON_FAILURE_MESSAGE
        "install libcivetweb-dev, or configure without the daemon: -DCAPV_BUILD_DAEMON=OFF")
