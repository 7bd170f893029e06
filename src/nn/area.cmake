# Included by mvb_add_area(nn). blas_kernels.cpp splits products over LibTorch's intra-op threads with
# at::parallel_for, whose `#pragma omp parallel` sits in ATen's headers (ATen/ParallelOpenMP.h): compiled
# without OpenMP it is a serial loop. Only that file gets the flag, so no other code changes behaviour; the
# runtime linked is libgomp, the one LibTorch itself runs on (Debian's, or the copy the PyPI wheel bundles
# under the same soname). A compiler without OpenMP (the clang sanitizer build lacks libomp) builds it serial.
find_package(OpenMP QUIET COMPONENTS CXX)
if(OpenMP_CXX_FOUND AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set_source_files_properties(${CMAKE_SOURCE_DIR}/src/nn/blas_kernels.cpp TARGET_DIRECTORY mvb_nn
                              PROPERTIES COMPILE_OPTIONS "${OpenMP_CXX_FLAGS}")
  target_link_libraries(mvb_nn PUBLIC ${OpenMP_CXX_LIBRARIES})
else()
  message(STATUS "nn: no OpenMP for ${CMAKE_CXX_COMPILER_ID}; blas_kernels.cpp runs on one thread")
endif()
