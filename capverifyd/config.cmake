# SPDX-License-Identifier: Apache-2.0
# The daemon's configuration as a static library, capvd_config (docs/architecture.md, "The
# daemon's configuration"): the table-driven loader (config.c, with the helpers its checks
# use) and what its verify.* / trust.* keys make (config_verify.c). capverifyd links it, and
# so does the CLI for `capverify verify --daemon-config DIR`, which thereby applies a
# configuration directory exactly as the daemon does. Included by the top-level
# CMakeLists.txt whenever either front-end is built (the CLI is built without CivetWeb too).
add_library(capvd_config STATIC
    ${CMAKE_CURRENT_LIST_DIR}/config.c
    ${CMAKE_CURRENT_LIST_DIR}/config_verify.c
    ${CMAKE_CURRENT_LIST_DIR}/cidr.c
    ${CMAKE_CURRENT_LIST_DIR}/budget_default.c)
target_include_directories(capvd_config PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(capvd_config PUBLIC capverify PRIVATE PkgConfig::YAML)
target_compile_definitions(capvd_config PRIVATE _GNU_SOURCE)
capv_target_warnings(capvd_config)
