# SPDX-License-Identifier: Apache-2.0
# Run at every build (cmake -P, from libcapverify/CMakeLists.txt): writes OUT from IN with
# CAPV_GIT_COMMIT, the commit of the source tree SRC now, so a rebuild after a commit names
# that commit (read once at configure time it went stale). configure_file leaves OUT alone
# when its text would not change, so nothing is rebuilt for an unchanged commit. A tree
# without git (a release tarball) takes COMMIT, the value given at configure time.
execute_process(
    COMMAND git rev-parse --short=12 HEAD
    WORKING_DIRECTORY ${SRC}
    OUTPUT_VARIABLE CAPV_GIT_COMMIT
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE rc
    ERROR_QUIET)
if(NOT rc EQUAL 0 OR NOT CAPV_GIT_COMMIT)
    set(CAPV_GIT_COMMIT "${COMMIT}")
endif()
configure_file(${IN} ${OUT} @ONLY)
