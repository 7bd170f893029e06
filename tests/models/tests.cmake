# SigLIP checkpoints ship a SentencePiece model, read through the dlopen'ed tokenizer module.
if(TARGET mvb_spm)
  add_dependencies(test_models mvb_spm)
endif()
