# Included by mvb_add_area(backends). The API benchmark runs a loopback cpp-httplib server; only that
# executable needs the library, and bench targets are created after the areas, so link it once the
# root directory has been processed.
function(mvb_backends_link_bench)
  if(TARGET bench_api_bench)
    target_link_libraries(bench_api_bench PRIVATE PkgConfig::HTTPLIB)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL mvb_backends_link_bench)
