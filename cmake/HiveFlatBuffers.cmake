# hive_flatbuffers_schema(<target> <schema.fbs> <folder>): compiles a FlatBuffers schema with flatc
# into <binary dir>/generated/<folder>/<name>_generated.h, makes <target> depend on it, and puts
# the generated folder on <target>'s public include path (include it as "<folder>/<name>_generated.h").
find_program(FLATC flatc REQUIRED)

function(hive_flatbuffers_schema target schema folder)
  get_filename_component(name ${schema} NAME_WE)
  set(generated_dir ${CMAKE_CURRENT_BINARY_DIR}/generated)
  set(header ${generated_dir}/${folder}/${name}_generated.h)
  add_custom_command(
    OUTPUT ${header}
    COMMAND ${FLATC} --cpp --scoped-enums -o ${generated_dir}/${folder} ${schema}
    DEPENDS ${schema}
    COMMENT "flatc: ${folder}/${name}.fbs")
  add_custom_target(${target}_${name}_schema DEPENDS ${header})
  add_dependencies(${target} ${target}_${name}_schema)
  target_include_directories(${target} PUBLIC ${generated_dir})
endfunction()
