# mvb_add_area(<area> [DEPS <area>...])
# Builds src/<area>/**/*.cpp into the OBJECT library mvb_<area>. Executables link areas as objects
# (mvb_link_areas), never through a static archive: registries fill themselves from static
# initialisers beside each implementation, and an archive would let the linker drop those objects.
# An optional src/<area>/area.cmake is included for area-specific extras (e.g. a dlopen'ed module,
# or target_link_libraries(mvb_<area> PUBLIC <lib>) for a library only that area needs),
# so the root CMakeLists.txt never needs editing when an area grows.
set(MVB_AREAS "")
function(mvb_add_area area)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  set(dir ${CMAKE_SOURCE_DIR}/src/${area})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${dir}/*.cpp)
  list(FILTER sources EXCLUDE REGEX "/module/")  # sources of dlopen'ed modules are built by area.cmake
  if(NOT sources)
    return()
  endif()
  add_library(mvb_${area} OBJECT ${sources})
  target_include_directories(mvb_${area} PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(mvb_${area} PUBLIC mvb_deps)
  # Transitive closure of area dependencies, in link order (dependents first).
  set(closure ${area})
  foreach(dep IN LISTS ARG_DEPS)
    get_property(dep_closure GLOBAL PROPERTY MVB_CLOSURE_${dep})
    list(APPEND closure ${dep_closure})
  endforeach()
  list(REMOVE_DUPLICATES closure)
  set_property(GLOBAL PROPERTY MVB_CLOSURE_${area} ${closure})
  if(EXISTS ${dir}/area.cmake)
    include(${dir}/area.cmake)
  endif()
  set(MVB_AREAS ${MVB_AREAS} ${area} PARENT_SCOPE)
endfunction()

# mvb_link_areas(<target> <area>...): links the objects of the areas and of everything they depend on.
function(mvb_link_areas target)
  set(all "")
  foreach(area IN LISTS ARGN)
    get_property(c GLOBAL PROPERTY MVB_CLOSURE_${area})
    list(APPEND all ${c})
  endforeach()
  list(REMOVE_DUPLICATES all)
  # Linking an OBJECT library adds its objects and its usage requirements, so libraries an
  # area.cmake adds with target_link_libraries(mvb_<area> PUBLIC ...) reach every executable.
  foreach(area IN LISTS all)
    target_link_libraries(${target} PRIVATE mvb_${area})
  endforeach()
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(${target} PRIVATE mvb_deps)
endfunction()
