# Included after test_agents is created. The end-to-end tests run the CLI against the loopback API
# server of tests/backends (cpp-httplib, found by pkg-config in cmake/Dependencies.cmake).
target_sources(test_agents PRIVATE ${CMAKE_SOURCE_DIR}/tests/backends/fake_api_server.cpp)
target_include_directories(test_agents PRIVATE ${CMAKE_SOURCE_DIR}/tests/backends)
target_link_libraries(test_agents PRIVATE PkgConfig::HTTPLIB)
add_dependencies(test_agents medvlmbench)
