# Included by mvb_add_area(vision).
#
# JPEGs are decoded with libjpeg(-turbo) directly (src/vision/jpeg_decoder.cpp): the same library and
# settings PIL uses, so pixels match the reference exactly, decoded straight to RGB into reusable
# buffers (OpenCV would decode to BGR into a fresh Mat). libjpeg62-turbo-dev, in APT_PACKAGES.
find_package(JPEG REQUIRED)
target_link_libraries(mvb_vision PUBLIC JPEG::JPEG)
