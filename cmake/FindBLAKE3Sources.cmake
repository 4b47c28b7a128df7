# SPDX-License-Identifier: Apache-2.0
# Locates the official BLAKE3 C sources that Debian ships in librust-blake3-dev
# (/usr/share/cargo/registry/blake3-<version>/c/). They are compiled into the library;
# they are never copied into this repository.
set(CAPV_BLAKE3_DIR "" CACHE PATH "Directory holding blake3.c (the C sources of BLAKE3)")

if(NOT CAPV_BLAKE3_DIR)
    file(GLOB _capv_blake3_candidates LIST_DIRECTORIES true
        /usr/share/cargo/registry/blake3-*/c)
    list(SORT _capv_blake3_candidates COMPARE NATURAL ORDER DESCENDING)
    foreach(_dir IN LISTS _capv_blake3_candidates)
        if(EXISTS "${_dir}/blake3.c" AND EXISTS "${_dir}/blake3.h")
            set(CAPV_BLAKE3_DIR "${_dir}" CACHE PATH "" FORCE)
            break()
        endif()
    endforeach()
endif()

if(NOT CAPV_BLAKE3_DIR OR NOT EXISTS "${CAPV_BLAKE3_DIR}/blake3.c")
    message(FATAL_ERROR
        "BLAKE3 C sources not found. Install Debian's librust-blake3-dev "
        "(scripts/install-deps.sh does) or pass -DCAPV_BLAKE3_DIR=/path/to/blake3/c")
endif()
message(STATUS "BLAKE3 C sources: ${CAPV_BLAKE3_DIR}")

set(CAPV_BLAKE3_SOURCES
    ${CAPV_BLAKE3_DIR}/blake3.c
    ${CAPV_BLAKE3_DIR}/blake3_dispatch.c
    ${CAPV_BLAKE3_DIR}/blake3_portable.c)
set(CAPV_BLAKE3_DEFINES "")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND NOT CAPV_FUZZ)
    # The hand-written x86-64 assembly is the fastest and needs no special compiler flags.
    list(APPEND CAPV_BLAKE3_SOURCES
        ${CAPV_BLAKE3_DIR}/blake3_sse2_x86-64_unix.S
        ${CAPV_BLAKE3_DIR}/blake3_sse41_x86-64_unix.S
        ${CAPV_BLAKE3_DIR}/blake3_avx2_x86-64_unix.S
        ${CAPV_BLAKE3_DIR}/blake3_avx512_x86-64_unix.S)
else()
    list(APPEND CAPV_BLAKE3_DEFINES
        BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512)
endif()
