# Included by mvb_add_area(agents). The agent benchmark runs a loopback cpp-httplib server (as the API
# benchmark does); bench targets are created after the areas, so link it once the root is processed.
function(mvb_agents_link_bench)
  if(TARGET bench_agent_bench)
    target_link_libraries(bench_agent_bench PRIVATE PkgConfig::HTTPLIB)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL mvb_agents_link_bench)
