# aria_add_plugin(NAME SOURCES...): a plugin .so in build/plugins/NAME.so that
# links the SDK runtime statically and exports only aria_plugin_entry.
function(aria_add_plugin name)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBS" ${ARGN})
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${ARIA_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
                        LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
  target_link_libraries(${name} PRIVATE aria-sdk ${P_LIBS})
  # A plugin must resolve every symbol itself: it may not lean on the host.
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
