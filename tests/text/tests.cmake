# test_text loads the sentencepiece module at run time (dlopen), so build it first.
add_dependencies(test_text mvb_spm)
