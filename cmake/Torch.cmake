# Finds LibTorch: Debian's libtorch-dev 1.13 (CPU, the default) or another LibTorch given with
# -DCMAKE_PREFIX_PATH: an unpacked LibTorch archive (its root folder) or the one inside a PyPI torch
# wheel (`python -c 'import torch; print(torch.utils.cmake_prefix_path)'`, i.e. <torch>/share/cmake, or
# <torch> itself). Sets MVB_TORCH_LIB_DIRS (the folders its shared libraries load from at run time).

# TorchConfig.cmake looks for libc10/libtorch with find_library(... PATHS <prefix>/lib), where the
# system folders come first: with Debian's libtorch-dev installed, a wheel's LibTorch given as
# <torch>/share/cmake would be linked with Debian's libc10 (measured: it was). Putting the LibTorch
# root itself in front of CMAKE_PREFIX_PATH makes <root>/lib win.
set(_mvb_torch_roots "")
if(Torch_DIR)
  get_filename_component(_root "${Torch_DIR}/../../.." ABSOLUTE)
  list(APPEND _mvb_torch_roots "${_root}")
endif()
foreach(_p IN LISTS CMAKE_PREFIX_PATH)
  if(EXISTS "${_p}/Torch/TorchConfig.cmake")  # <torch>/share/cmake from torch.utils.cmake_prefix_path
    get_filename_component(_root "${_p}/../.." ABSOLUTE)
    list(APPEND _mvb_torch_roots "${_root}")
  endif()
endforeach()
list(PREPEND CMAKE_PREFIX_PATH ${_mvb_torch_roots})

# A CUDA LibTorch's config calls enable_language(CUDA), which needs nvcc: take the toolkit's usual
# place when nvcc is not on PATH and nothing was given.
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND NOT CUDAToolkit_ROOT)
  find_program(_mvb_nvcc nvcc)
  if(NOT _mvb_nvcc AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "CUDA compiler")
  endif()
endif()

find_package(Torch REQUIRED)

# Whichever LibTorch was found, all of its libraries and headers must come from that one install.
get_filename_component(_mvb_torch_lib_dir "${c10_LIBRARY}" DIRECTORY)
get_filename_component(_mvb_torch_lib_dir "${_mvb_torch_lib_dir}" REALPATH)
get_filename_component(_mvb_torch_prefix "${TORCH_INSTALL_PREFIX}" REALPATH)
if(NOT _mvb_torch_lib_dir MATCHES "^${_mvb_torch_prefix}/" AND
   NOT _mvb_torch_prefix STREQUAL "/usr")  # Debian: prefix /usr, libraries in /usr/lib/<multiarch>
  message(FATAL_ERROR "LibTorch at ${TORCH_INSTALL_PREFIX} but libc10 found at ${c10_LIBRARY}: remove "
                      "the build folder and pass -DCMAKE_PREFIX_PATH=${TORCH_INSTALL_PREFIX}")
endif()
set(MVB_TORCH_LIB_DIRS "${_mvb_torch_lib_dir}")
# The pip wheel's CUDA libraries come as nvidia-* wheels beside torch (libtorch_cuda finds them
# through its own RPATH; our executables list them too, so that nothing from another CUDA install,
# e.g. the toolkit's /usr/local/cuda/lib64, is loaded instead).
file(GLOB _mvb_nvidia_lib_dirs LIST_DIRECTORIES true "${_mvb_torch_prefix}/../nvidia/*/lib")
foreach(_d IN LISTS _mvb_nvidia_lib_dirs)
  get_filename_component(_d "${_d}" REALPATH)
  list(APPEND MVB_TORCH_LIB_DIRS "${_d}")
endforeach()

if(NOT _mvb_torch_prefix STREQUAL "/usr")
  # Run paths are exactly LibTorch's folders, in the build tree and when installed: CMake would
  # otherwise add every linked library's folder (the CUDA toolkit's among them) before them.
  set(CMAKE_BUILD_WITH_INSTALL_RPATH ON)
  set(CMAKE_INSTALL_RPATH "${MVB_TORCH_LIB_DIRS}")
  set(CMAKE_INSTALL_RPATH_USE_LINK_PATH OFF)
endif()

# A CUDA LibTorch exports the torch_cuda target (reported by `medvlmbench version` as compiled CUDA).
if(TARGET torch_cuda)
  set(MVB_TORCH_CUDA_BUILD 1)
else()
  set(MVB_TORCH_CUDA_BUILD 0)
endif()
message(STATUS "LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX} (CUDA: ${MVB_TORCH_CUDA_BUILD}, "
               "libraries: ${MVB_TORCH_LIB_DIRS})")
