# Every third-party library, found once, exposed as the interface target mvb_deps.
# The apt package for each is listed in scripts/setup.sh (the one list).
include(${CMAKE_CURRENT_LIST_DIR}/Torch.cmake)  # Debian's LibTorch 1.13 (CPU) or a CUDA LibTorch 2.x
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
# Only these components: opencv_dnn links libprotobuf, which must stay out of reach of sentencepiece.
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
find_package(CURL REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # not header-only: defines must match the .so
find_library(SNAPPY_LIBRARY snappy REQUIRED)
find_path(SNAPPY_INCLUDE_DIR snappy-c.h REQUIRED)

# yaml-cpp's Debian config exports the target "yaml-cpp" (newer releases: yaml-cpp::yaml-cpp).
if(TARGET yaml-cpp::yaml-cpp)
  set(MVB_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(MVB_YAML_TARGET yaml-cpp)
endif()

add_library(mvb_deps INTERFACE)
target_link_libraries(mvb_deps INTERFACE
  ${TORCH_LIBRARIES} CLI11::CLI11 nlohmann_json::nlohmann_json spdlog::spdlog ${MVB_YAML_TARGET}
  ${OpenCV_LIBS} CURL::libcurl PkgConfig::PCRE2 PkgConfig::ZSTD ${SNAPPY_LIBRARY} ZLIB::ZLIB
  Threads::Threads ${CMAKE_DL_LIBS})
target_include_directories(mvb_deps INTERFACE ${SNAPPY_INCLUDE_DIR})

# LibTorch 2.x ships its own {fmt} (12) in <prefix>/include/fmt, which shadows the system fmt 9 that
# spdlog is built against (spdlog's headers then fail to compile, and would mismatch libfmt.so.9).
# A folder holding only a link to the system fmt headers goes in front of LibTorch's includes; no
# LibTorch header we include uses fmt.
if(EXISTS "${TORCH_INSTALL_PREFIX}/include/fmt" AND TARGET fmt::fmt)
  get_target_property(_mvb_fmt_includes fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
  find_path(_mvb_fmt_dir fmt/core.h PATHS ${_mvb_fmt_includes} NO_DEFAULT_PATH REQUIRED)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/system-fmt)
  file(CREATE_LINK ${_mvb_fmt_dir}/fmt ${CMAKE_BINARY_DIR}/system-fmt/fmt SYMBOLIC)
  target_include_directories(mvb_deps SYSTEM BEFORE INTERFACE ${CMAKE_BINARY_DIR}/system-fmt)
endif()
target_compile_definitions(mvb_deps INTERFACE PCRE2_CODE_UNIT_WIDTH=8)
