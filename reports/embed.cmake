# cmake -DOUTPUT=file.cpp -DINPUTS="name1=path1;name2=path2" -P embed.cmake
# Writes each file as `extern const char name[]`, NUL-terminated, for the HTML report's assets.
set(text "// Generated from reports/vendor by reports/embed.cmake; do not edit.\n")
foreach(pair ${INPUTS})
  string(REPLACE "=" ";" parts "${pair}")
  list(GET parts 0 name)
  list(GET parts 1 path)
  file(READ "${path}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND text "extern const char ${name}[];\nconst char ${name}[] = {${bytes}'\\0'};\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "${text}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
