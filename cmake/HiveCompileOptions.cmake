# Warnings and sanitizers for every hive target, through one interface target.
add_library(hive_compile_options INTERFACE)
target_compile_options(hive_compile_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wimplicit-fallthrough -Werror=return-type>)

if(HIVE_SANITIZE)
  target_compile_options(hive_compile_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(hive_compile_options INTERFACE -fsanitize=address,undefined)
endif()
