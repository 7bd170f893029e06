# Included by mvb_add_area(text).
#
# Unicode normalization, categories and case mapping come from ICU (libicu-dev).
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc)
target_link_libraries(mvb_text PUBLIC PkgConfig::ICU)

# SentencePiece lives in its own MODULE, dlopen'ed at run time (see src/text/module/spm_module.cpp):
# it must never be linked into anything that links libtorch. It lands in the build root, where the
# loader looks (next to the executable, or $MVB_SPM_MODULE, or <prefix>/lib/medvlmbench when installed).
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
add_library(mvb_spm MODULE ${CMAKE_SOURCE_DIR}/src/text/module/spm_module.cpp)
target_link_libraries(mvb_spm PRIVATE PkgConfig::SENTENCEPIECE)
set_target_properties(mvb_spm PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR} PREFIX "lib")
if(MVB_SANITIZE OR MVB_FUZZ)
  # Uninstrumented: it lives in a separate link-map namespace under the sanitizers (spm_module.cpp),
  # where a second copy of the sanitizer runtime could not start.
  set_target_properties(mvb_spm PROPERTIES COMPILE_OPTIONS "-fPIC" LINK_OPTIONS "")
endif()
install(TARGETS mvb_spm LIBRARY DESTINATION lib/medvlmbench)
