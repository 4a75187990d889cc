# Writes OUTPUT, a C++ source defining circuit::EmbeddedCircuitSources() from
# every .textproto file in INPUT_DIR. Run with cmake -P at build time.
file(GLOB files RELATIVE ${INPUT_DIR} ${INPUT_DIR}/*.textproto)
list(SORT files)
set(body "")
foreach(name IN LISTS files)
  file(READ ${INPUT_DIR}/${name} text)
  string(FIND "${text}" ")circuit_raw\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${name} contains the raw-string delimiter")
  endif()
  string(APPEND body "      {\"${name}\", R\"circuit_raw(${text})circuit_raw\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp
"// Generated from server/circuits/ by embed_circuits.cmake. Do not edit.
#include \"server/library/embedded_circuits.h\"

namespace circuit {

std::vector<LibrarySource> EmbeddedCircuitSources() {
  return {
${body}  };
}

}  // namespace circuit
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
