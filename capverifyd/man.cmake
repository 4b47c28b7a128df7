# SPDX-License-Identifier: Apache-2.0
# Writes capverifyd(8) from docs/man/capverifyd.8.in: the CONFIGURATION section is the
# daemon's own table of keys (capverifyd --print-config-reference=mdoc), as
# docs/configuration.md is. Run by capverifyd/CMakeLists.txt after capverifyd is built:
#   cmake -DDAEMON=… -DIN=… -DOUT=… -DPROJECT_VERSION=… -DCAPV_MAN_DATE=… -P man.cmake
execute_process(COMMAND ${DAEMON} --print-config-reference=mdoc
    OUTPUT_VARIABLE CAPV_MAN_CONFIGURATION RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${DAEMON} --print-config-reference=mdoc failed: ${rc}")
endif()
string(STRIP "${CAPV_MAN_CONFIGURATION}" CAPV_MAN_CONFIGURATION)
configure_file(${IN} ${OUT} @ONLY)
