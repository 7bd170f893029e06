// Moved to the public include/medvlmbench/nn/hf_config.h so model readers outside src/nn share it.
#pragma once
#include "medvlmbench/nn/hf_config.h"
