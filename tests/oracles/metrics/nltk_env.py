"""Makes nltk's WordNet reader work on Debian's wordnet-base files, offline.

Debian ships the WordNet 3.0 database in /usr/share/wordnet but not the `lexnames` file that
nltk's reader opens, and nltk looks for it under <nltk_data>/corpora/wordnet. setup(folder) builds
that folder (links to the Debian files plus a generated lexnames) and points nltk at it.
"""
import os

LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def setup(folder, source="/usr/share/wordnet"):
    wn = os.path.join(folder, "corpora", "wordnet")
    os.makedirs(wn, exist_ok=True)
    for name in os.listdir(source):
        target = os.path.join(wn, name)
        if not os.path.exists(target):
            os.symlink(os.path.join(source, name), target)
    with open(os.path.join(wn, "lexnames"), "w") as f:
        for i, name in enumerate(LEXNAMES):
            f.write("%02d\t%s\t%d\n" % (i, name, POS_NUMBER[name.split(".")[0]]))
    import nltk

    nltk.data.path.insert(0, folder)
    from nltk.corpus import wordnet

    wordnet.ensure_loaded()
    return wordnet
