# Writes OUTPUT, a C++ source defining circuit::EmbeddedStaticFiles() from
# every page, script and style sheet in INPUT_DIR. Run with cmake -P at build
# time.
file(GLOB files RELATIVE ${INPUT_DIR} ${INPUT_DIR}/*.html ${INPUT_DIR}/*.js
     ${INPUT_DIR}/*.css ${INPUT_DIR}/*.svg)
list(SORT files)
set(body "")
foreach(name IN LISTS files)
  file(READ ${INPUT_DIR}/${name} text)
  string(FIND "${text}" ")static_raw\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${name} contains the raw-string delimiter")
  endif()
  string(APPEND body "      {\"${name}\", R\"static_raw(${text})static_raw\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp
"// Generated from server/http/static/ by embed_static.cmake. Do not edit.
#include \"server/http/static_files.h\"

namespace circuit {

const std::vector<StaticFile>& EmbeddedStaticFiles() {
  static const std::vector<StaticFile>* const files =
      new std::vector<StaticFile>{
${body}      };
  return *files;
}

}  // namespace circuit
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
