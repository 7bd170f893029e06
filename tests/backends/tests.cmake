# Included after test_backends is created. The loopback API server is cpp-httplib, found by
# pkg-config in cmake/Dependencies.cmake (its defines must match the .so: never include it by hand).
# The judge and the generative runners live in the tasks area, tested here against that server.
target_link_libraries(test_backends PRIVATE PkgConfig::HTTPLIB)
mvb_link_areas(test_backends tasks)
add_dependencies(test_backends medvlmbench)  # the end-to-end tests run the CLI
