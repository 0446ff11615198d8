# Compiler flags shared by every ARIA target.
add_compile_definitions(_GNU_SOURCE)
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2
                    -Wno-missing-field-initializers)
if(ARIA_WERROR)
  add_compile_options(-Werror)
endif()
if(ARIA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
