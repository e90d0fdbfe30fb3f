"""Labelled public data sets, mapped onto Warden's policy categories.

The data live outside the repository under the configured data root (setting
`data_dir`, env `WARDEN_DATA_DIR`, CLI `--data-dir`; default `../shared/data`). They are
read in place (zips included) and never copied into the project.

Label semantics of a `LabeledText`:

* `labels[c] == 1`: the source says the item violates category `c`;
* `labels[c] == 0`: the source says it does not;
* `c` absent: unknown, so training and evaluation must ignore the item for `c`.

Rules: a data set's mapped labels are authoritative for the categories it `covers`; an
item the source marks fully benign is 0 for every category (benign is benign); a
violating item is unknown outside `covers`. An item the source only marks "not X" (e.g.
TweetEval not-hate, ETHOS isHate < 0.5) is 0 for X and unknown elsewhere, because such
items still contain insults, profanity or threats.

Splits: official train/val/test files are used where they exist (val -> calib); sets
without an official split get `hash_split` on the near-duplicate key of the text (seed
20261122), so the same text lands in the same split everywhere. `load_datasets` then
runs `splits.apply_splits` (test decontamination, calib/train separation, train dedupe).

| data set                        | lang     | licence             | comm. | train | covers                  |
|---------------------------------|----------|---------------------|-------|-------|-------------------------|
| davidson-hate-offensive         | en       | MIT                 | yes   | yes   | hate, profanity         |
| tweeteval_hate                  | en       | Twitter terms       | no    | yes   | hate                    |
| tweeteval_offensive             | en       | Twitter terms       | no    | yes   | harassment              |
| hatexplain-test-val             | en       | MIT                 | yes   | yes   | hate, harassment        |
| ethos                           | en       | GPL-3.0             | no    | yes   | hate (+violence)        |
| toxigen-demonstrations          | en       | CDLA-Permissive-2.0 | yes   | yes   | hate                    |
| jigsaw-toxic-sample             | en       | CC0 / CC BY-SA 3.0  | yes   | yes   | profanity, violence,    |
|                                 |          |                     |       |       | harassment, hate        |
| fine-grained-hateful-memes-text | en       | research only       | no    | yes   | hate (+violence)        |
| germeval2018                    | de       | CC BY 4.0           | yes   | yes   | hate, harassment, prof. |
| mlma-hate-speech                | en fr ar | MIT                 | yes   | yes   | hate, harassment        |
| korean-hate-speech              | ko       | CC BY-SA 4.0        | no    | yes   | hate, harassment        |
| l-hsab-arabic                   | ar       | none declared       | no    | yes   | hate, harassment        |
| sms-spam-collection             | en       | CC BY 4.0           | yes   | yes   | spam_scam               |
| youtube-spam-collection         | en       | CC BY 4.0           | yes   | yes   | spam_scam               |
| deceptive-opinion-spam          | en       | CC BY-NC-SA 3.0     | no    | no    | spam_scam (eval only)   |
| threatgram101                   | en       | CC BY 4.0, 2nd-hand | yes   | yes   | violence                |
| germeval2026-harmful            | de       | GPL-3.0             | no    | yes   | violence, extremism,    |
|                                 |          |                     |       |       | harassment (partial)    |
| edos                            | en       | CC0-1.0             | yes   | yes   | hate (+violence)        |
| stormfront-hate                 | en       | CC BY-SA 3.0 ES     | no    | yes   | hate                    |
| sdcnl                           | en       | none declared       | no    | yes   | self_harm               |
| jigsaw-bias-templates-{en,de,   | en de nl | Apache-2.0          | yes   | yes   | hate; nontoxic -> all 0 |
|   nl,hi,zh} (one per language)  | hi zh    |                     |       |       |                         |
| surge-toxicity                  | en       | MIT                 | yes   | yes   | hate, harassment,       |
|                                 |          |                     |       |       | violence (negatives)    |
| told-br                         | pt       | CC BY-SA 4.0        | no    | yes   | hate, harassment, prof. |
| hatebr-pt                       | pt       | CC BY-NC 4.0        | no    | yes   | any; non-offensive -> 0 |
| pt-hate-fortuna                 | pt       | none declared       | no    | yes   | hate                    |
| id-multilabel-hate              | id       | CC BY-NC-SA 4.0     | no    | yes   | hate, harassment, prof. |
| cold-zh                         | zh       | Apache-2.0          | yes   | yes   | hate, harassment        |
| toxicn-zh                       | zh       | CC BY-NC-ND 4.0     | no    | yes   | hate                    |
| haspeede2018-it                 | it       | CC BY-NC-SA 4.0     | no    | yes   | hate                    |
| hateval2019-es                  | es       | CC BY-NC 4.0        | no    | yes   | hate (+harassment)      |
| purplellama-cyberseceval-prompts| en       | MIT                 | yes   | yes   | all 0 (benign prompts)  |
| hh-rlhf-harmless-test           | en       | MIT                 | yes   | yes   | all 0 (refusals)        |
| warden-seeds (package data)     | any      | Apache-2.0 (Warden) | yes   | yes   | as written              |
| warden-contrast (package data)  | any      | Apache-2.0 (Warden) | yes   | yes   | as written              |

Share-alike (CC BY-SA) sets are not `commercial_ok`, as for korean-hate-speech: a model
trained on them may be argued to be an adaptation that has to carry the licence. The
jigsaw-toxic-sample exception is its CC0 Kaggle origin.

Mappings and splits ("hash" = `hash_split` of the text's near-duplicate key; the same
text is also in `MAPPING_NOTES` for the model card):

| data set                | source label -> categories                               | splits                |
|-------------------------|----------------------------------------------------------|-----------------------|
| davidson-hate-offensive | 0 hate_speech -> hate=1 (profanity unknown); 1           | hash 70/15/15         |
|                         | offensive_language -> profanity=1, hate=0; 2 neither ->  |                       |
|                         | all 0                                                    |                       |
| tweeteval_hate          | 1 -> hate=1; 0 -> hate=0 only                            | official; val ->      |
|                         |                                                          | calib                 |
| tweeteval_offensive     | OLID 1 -> harassment=1 (OLID 'offensive' is mostly       | official; val ->      |
|                         | targeted insults, also profanity); 0 -> all 0            | calib                 |
| hatexplain-test-val     | majority of 3: hatespeech -> hate=1; offensive ->        | val: hash 70/30       |
|                         | harassment=1, hate=0; normal -> all 0; no majority ->    | train/calib; test ->  |
|                         | skipped                                                  | test                  |
| ethos                   | isHate >= 0.5 -> hate=1, else hate=0 only; hateful items | hash 70/15/15         |
|                         | in the multi-label file: violence = (violence >= 0.5)    |                       |
| toxigen-demonstrations  | hate_* files -> hate=1; neutral_* -> all 0; identical    | hash 70/15/15         |
|                         | lines deduped                                            |                       |
| jigsaw-toxic-sample     | obscene -> profanity, threat -> violence, insult ->      | train: hash 70/30;    |
|                         | harassment, identity_hate -> hate; toxic/severe_toxic    | test (-1 rows         |
|                         | alone -> any_violation=1, categories unknown; all 0 ->   | skipped)              |
|                         | all 0                                                    |                       |
| fine-grained-hateful-   | hateful -> hate=1, violence = inciting_violence in       | train: hash 70/30;    |
| memes-text              | gold_attack; not_hateful -> hate=0 only; captions seen   | dev_seen + dev_unseen |
|                         | with both labels (the image decides) dropped; test.jsonl | -> test (dedupe by    |
|                         | unlabelled, ignored                                      | id)                   |
| germeval2018            | task2 ABUSE -> hate=1 (ABUSE = degrading a person as a   | training: hash 70/30; |
|                         | member of a group); INSULT -> harassment=1; PROFANITY -> | test -> test          |
|                         | profanity=1; OTHER -> all 0                              |                       |
| mlma-hate-speech        | '_'-joined sentiment: hateful -> hate=1;                 | hash 70/15/15         |
|                         | offensive/abusive/disrespectful -> harassment=1; exactly |                       |
|                         | normal -> all 0; fearful (+normal) only ->               |                       |
|                         | any_violation=1, categories unknown                      |                       |
| korean-hate-speech      | hate -> hate=1; offensive -> harassment=1; none -> all 0 | train: hash 70/30;    |
|                         |                                                          | dev -> test           |
| l-hsab-arabic           | hate -> hate=1; abusive -> harassment=1; normal -> all 0 | hash 70/15/15         |
| sms-spam-collection     | spam -> spam_scam=1; ham -> all 0                        | hash 70/15/15         |
| youtube-spam-collection | CLASS 1 -> spam_scam=1; 0 -> all 0                       | hash 70/15/15         |
| deceptive-opinion-spam  | deceptive -> spam_scam=1; truthful -> all 0              | all test              |
| threatgram101           | level 2 violent -> violence=1; 1 legal punishment        | hash 70/15/15;        |
|                         | (arrest, impeach) and 0 none -> violence=0 only          | cap 6,000             |
| germeval2026-harmful    | merged by (id, text): vio call2violence/propensity/      | hash 70/15/15;        |
|                         | support/glorification -> violence=1, nothing -> 0,       | cap 18,000 (rare      |
|                         |                                                          | violence/extremism    |
|                         |                                                          | positives)            |
|                         | other -> unknown; dbo subversive/agitation ->            |                       |
|                         | extremism=1, criticism/nothing -> 0; def TRUE/FALSE ->   |                       |
|                         | harassment 1/0; c2a unmapped; only annotated tasks known |                       |
| edos                    | sexist -> hate=1 (+violence=1 for vectors 1.1 threats,   | official; dev ->      |
|                         | 1.2 incitement); not sexist -> hate=0 only               | calib; cap 6,000      |
| stormfront-hate         | hate -> hate=1; noHate -> hate=0 only; relation,         | sampled_test -> test; |
|                         | idk/skip skipped                                         | rest hash 70/30;      |
|                         |                                                          | cap 6,000             |
| sdcnl                   | r/SuicideWatch -> self_harm=1; r/depression ->           | training: hash 70/30; |
|                         | self_harm=0 only (author, url never read)                | testing -> test       |
| jigsaw-bias-templates-* | nontoxic -> all 0; toxic "I hate X" / "Being X is bad"   | hash 70/15/15;        |
|                         | -> hate=1 (any only when X is an age group); toxic       | cap 3,000 per         |
|                         | insults of a person -> any, kind unknown; toxic verb     | language              |
|                         | fragments skipped                                        |                       |
| surge-toxicity          | Toxic -> any, kind unknown; Not Toxic -> hate,           | hash 70/15/15         |
|                         | harassment, violence = 0 (profanity unknown)             |                       |
| told-br                 | per type >= 2 of 3 votes -> 1, 0 votes -> 0, 1 vote ->   | hash 70/15/15;        |
|                         | unknown: obscene -> profanity, insult -> harassment,     | cap 6,000             |
|                         | homophobia/racism/misogyny/xenophobia -> hate; all 0 ->  |                       |
|                         | all 0                                                    |                       |
| hatebr-pt               | offensive -> any, kind unknown; non-offensive -> all 0   | hash 70/15/15;        |
|                         |                                                          | cap 6,000             |
| pt-hate-fortuna         | hatespeech_comb 1 -> hate=1; 0 -> hate=0 only            | hash 70/15/15         |
| id-multilabel-hate      | HS=0 & Abusive=0 -> all 0; else Abusive -> profanity     | hash 70/15/15;        |
|                         | 1/0, HS=0 -> hate=0, HS with religion/race/gender ->     | cap 6,000             |
|                         | hate=1, HS at an individual + abusive -> harassment=1    |                       |
| cold-zh                 | safe (incl. anti-bias) -> all 0; test fine-grained       | official; dev ->      |
|                         | attack group -> hate=1, attack individual ->             | calib; cap 6,000      |
|                         | harassment=1; train/dev offensive -> any, kind unknown   |                       |
| toxicn-zh               | non-toxic -> all 0; hate explicit/implicit -> hate=1;    | hash 70/15/15;        |
|                         | general offence -> any, hate=0; 'reporting' skipped      | cap 6,000             |
| haspeede2018-it         | 1 -> hate=1; 0 -> hate=0 only (FB + TW train files)      | hash 70/15/15         |
| hateval2019-es          | HS=1 -> hate=1 (+harassment=1 if TR=1); HS=0 -> hate=0   | train: hash 70/30;    |
|                         | only                                                     | dev -> test           |
| purplellama-cyberseceval| mitre_frr (is_malicious False) -> all 0; prompt          | hash 70/15/15         |
| -prompts                | injection files not read                                 |                       |
| hh-rlhf-harmless-test   | final Assistant turn of 'chosen' matching `HH_REFUSAL`,  | hash 70/15/15         |
|                         | <= 600 chars, no `HH_EXCLUDE` word -> all 0; nothing     |                       |
|                         | else (never the Human turns)                             |                       |
| warden-seeds            | JSONL `violates` -> 1; `known` "all" -> the rest 0, a    | hash 70/15/15         |
|                         | list -> only those known (see `project_data`)            |                       |
| warden-contrast         | as warden-seeds, with `phenomenon`                       | train/ -> hash 80/20  |
|                         |                                                          | train/calib; test/ -> |
|                         |                                                          | test (fixed suite)    |

Caps (`DatasetSpec.cap`): training embeds every text with a slow encoder, so no second-round
set contributes more than 6,000 items (jigsaw templates: 3,000 per language). The subsample
keeps the items first in sha256(SEED:item id) order and their splits. Within a second-round
set, copies of a text (near-duplicate key) labelled 1 and 0 for the same category are dropped.

Families (`DatasetSpec.family`, `families()`): sets from the same source or task share one, so
leave-one-family-out never trains on a sibling of the held-out set: tweeteval_hate,
tweeteval_offensive and hateval2019-es are one family (TweetEval bundles HatEval with OLID;
hateval2019-es is the Spanish half of HatEval), the five jigsaw-bias-templates specs are
another; every other set is its own family.

Personal data: columns with user names, URLs, authors or annotator ids are never read; the
CSV loaders select the columns they use by name (`_columns`).

Text clean-up: HTML entities are unescaped for the Twitter/YouTube sets that carry them
(davidson, tweeteval, germeval, youtube) because live input arrives unescaped; GermEval
`|LBR|` becomes a newline; BOMs and surrounding whitespace are stripped; empty texts
are skipped.
Second round: HTML entities are unescaped for the tweet sets (germeval2026, told-br, fortuna,
id-multilabel, haspeede, hateval-es); GermEval 2026 CRLF becomes LF; the Indonesian set's
Latin-1 bytes and bytes-repr escapes are repaired (`_id_text`); runs of spaces in template
phrases collapse.

Missing data: with explicit `names`, a missing data set raises `MissingDataError`. With
`names=None` the sets that are present are loaded, missing ones are logged (warning) and
listed in the stats under "missing"; a data root that does not exist at all always
raises. The project-written sets (`builtin`, read from `warden/data/`, see `project_data`)
are never missing: an absent or empty directory loads as [].
"""

from __future__ import annotations

from .base import (  # noqa: F401  (the package keeps every name the single module had)
    _CAP,
    _DATA_HINT,
    _HATEVAL,
    BENIGN,
    CATEGORIES,
    TRAIN_CALIB,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    Loader,
    _clean,
    _columns,
    _covered,
    _decode,
    _drop_contradictions,
    _item,
    _read_text,
    _spec,
    _split_for,
    cap_items,
    labels_matrix,
    log,
    sample_key,
)
from .cold import (  # noqa: F401
    _load_cold,
)
from .davidson import (  # noqa: F401
    _load_davidson,
)
from .deceptive import (  # noqa: F401
    _load_deceptive,
)
from .edos import (  # noqa: F401
    _EDOS_SPLITS,
    _EDOS_VIOLENT,
    _load_edos,
)
from .ethos import (  # noqa: F401
    _ethos_norm,
    _load_ethos,
)
from .fortuna import (  # noqa: F401
    _load_fortuna,
)
from .germeval import (  # noqa: F401
    _GERMEVAL_MAP,
    _load_germeval,
)
from .germeval2026 import (  # noqa: F401
    _GE26,
    _GE26_FILES,
    _GE26_VIOLENT,
    _ge26_labels,
    _load_germeval2026,
)
from .haspeede import (  # noqa: F401
    _load_haspeede,
)
from .hatebr import (  # noqa: F401
    _load_hatebr,
)
from .hateval_es import (  # noqa: F401
    _HATEVAL_ES,
    _HATEVAL_ES_FILES,
    _load_hateval_es,
)
from .hatexplain import (  # noqa: F401
    _load_hatexplain,
)
from .hh_harmless import (  # noqa: F401
    _HH_MAX_CHARS,
    _HH_TURN,
    _Q,
    HH_EXCLUDE,
    HH_REFUSAL,
    _load_hh_harmless,
    hh_benign_reply,
)
from .id_hate import (  # noqa: F401
    _ID_CUT,
    _ID_ESC,
    _ID_HEX,
    _ID_PROTECTED,
    _ID_UNI,
    _id_text,
    _load_id_hate,
)
from .jigsaw import (  # noqa: F401
    _JIGSAW_MAP,
    _load_jigsaw,
)
from .jigsaw_templates import (  # noqa: F401
    _JB_AGE,
    _JB_ATTACK,
    _JB_CAP,
    _JB_INSULT,
    _JB_LANGS,
    _jigsaw_templates,
)
from .korean import (  # noqa: F401
    _load_korean,
)
from .lhsab import (  # noqa: F401
    _load_lhsab,
)
from .memes import (  # noqa: F401
    _load_memes,
)
from .mitre_frr import (  # noqa: F401
    _load_mitre_frr,
)
from .mlma import (  # noqa: F401
    _MLMA_FILES,
    _load_mlma,
)
from .registry import (  # noqa: F401
    DATASETS,
    MAPPING_NOTES,
    _resolve,
    data_manifest,
    eval_record,
    families,
    load_datasets,
    load_datasets_with_stats,
    load_raw,
    read_eval_jsonl,
    to_eval_jsonl,
)
from .sdcnl import (  # noqa: F401
    _load_sdcnl,
)
from .sms import (  # noqa: F401
    _load_sms,
)
from .stormfront import (  # noqa: F401
    _load_stormfront,
)
from .surge import (  # noqa: F401
    _load_surge,
)
from .threatgram import (  # noqa: F401
    _load_threatgram,
)
from .toldbr import (  # noqa: F401
    _TOLD_HATE,
    _load_toldbr,
    _told_vote,
)
from .toxicn import (  # noqa: F401
    _load_toxicn,
)
from .toxigen import (  # noqa: F401
    _load_toxigen,
)
from .tweeteval import (  # noqa: F401
    _TE_FILES,
    _tweeteval,
)
from .youtube import (  # noqa: F401
    _load_youtube,
)
