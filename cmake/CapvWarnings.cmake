# SPDX-License-Identifier: Apache-2.0
# Warning flags for the project's own sources (never applied to third-party sources).
set(CAPV_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wformat=2
    -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef)
if(CAPV_WERROR)
    list(APPEND CAPV_WARNING_FLAGS -Werror)
endif()

function(capv_target_warnings target)
    target_compile_options(${target} PRIVATE
        $<$<COMPILE_LANGUAGE:C>:${CAPV_WARNING_FLAGS}>)
endfunction()
