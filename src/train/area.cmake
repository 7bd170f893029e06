# Data parallel training (src/train/distributed*.cpp): which c10d backends this build can construct.
# Gloo: ProcessGroupGloo.hpp includes gloo's headers, shipped by neither LibTorch we build against;
# Debian's libgloo-dev has them (the gloo Debian's LibTorch links). NCCL: a CUDA LibTorch built with
# it (USE_C10D_NCCL on torch_cuda) and nccl.h (the wheel's nvidia/nccl/include, or the system's).
find_path(MVB_GLOO_INCLUDE_DIR gloo/algorithm.h)
get_target_property(_mvb_torch_cpu_defs torch_cpu INTERFACE_COMPILE_DEFINITIONS)
if(MVB_GLOO_INCLUDE_DIR AND "USE_C10D_GLOO" IN_LIST _mvb_torch_cpu_defs)
  set_property(SOURCE ${CMAKE_SOURCE_DIR}/src/train/distributed_gloo.cpp TARGET_DIRECTORY mvb_train
               APPEND PROPERTY COMPILE_DEFINITIONS MVB_HAVE_GLOO=1)
  message(STATUS "data parallel training: Gloo (headers in ${MVB_GLOO_INCLUDE_DIR})")
else()
  message(STATUS "data parallel training: no Gloo (apt-get install libgloo-dev for multi-process CPU training)")
endif()
if(TARGET torch_cuda)
  get_target_property(_mvb_torch_cuda_defs torch_cuda INTERFACE_COMPILE_DEFINITIONS)
  find_path(MVB_NCCL_INCLUDE_DIR nccl.h HINTS "${_mvb_torch_prefix}/../nvidia/nccl/include")
  if(MVB_NCCL_INCLUDE_DIR AND "USE_C10D_NCCL" IN_LIST _mvb_torch_cuda_defs)
    set_property(SOURCE ${CMAKE_SOURCE_DIR}/src/train/distributed_nccl.cpp TARGET_DIRECTORY mvb_train
                 APPEND PROPERTY COMPILE_DEFINITIONS MVB_HAVE_NCCL=1)
    set_property(SOURCE ${CMAKE_SOURCE_DIR}/src/train/distributed_nccl.cpp TARGET_DIRECTORY mvb_train
                 APPEND PROPERTY INCLUDE_DIRECTORIES ${MVB_NCCL_INCLUDE_DIR})
    message(STATUS "data parallel training: NCCL (nccl.h in ${MVB_NCCL_INCLUDE_DIR})")
  endif()
endif()
