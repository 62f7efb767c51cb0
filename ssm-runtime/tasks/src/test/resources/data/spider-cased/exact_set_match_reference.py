"""Reference verdicts of Spider's official exact-set match for SpiderExactSetMatchTest.

Usage: python exact_set_match_reference.py SPIDER_LIB PAIRS_JSON
  SPIDER_LIB  a folder holding the official evaluation.py and process_sql.py as a package (e.g. a copy of
              furiosa-ai/ssm-state-tuning metrics/spider/lib, which is taoyds/spider's code); not in this repository
  PAIRS_JSON  [[db_id, gold, predicted], ...]: exact_set_match_pairs.json beside this script, the triples of the test
Run from this folder (spider-cased): databases in database/<db_id>/<db_id>.sqlite, foreign keys from tables.json.
NLTK's word_tokenize is called with preserve_line=True (no punkt sentence model offline), which tokenises a
one-line query the same way.
Prints one line per pair: 1 for an exact-set match, 0 otherwise (a prediction that does not parse scores 0).
"""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
import nltk  # noqa: E402

_word_tokenize = nltk.word_tokenize
lib = os.path.basename(os.path.abspath(sys.argv[1]))
process_sql = __import__(lib + ".process_sql", fromlist=["x"])
process_sql.word_tokenize = lambda s: _word_tokenize(s, preserve_line=True)
evaluation = __import__(lib + ".evaluation", fromlist=["x"])

kmaps = evaluation.build_foreign_key_map_from_json("tables.json")
for db_id, gold, pred in json.load(open(sys.argv[2])):
    schema = process_sql.Schema(process_sql.get_schema(os.path.join("database", db_id, db_id + ".sqlite")))
    g = process_sql.get_sql(schema, gold)
    try:
        p = process_sql.get_sql(schema, pred)
    except Exception:
        print(0)
        continue
    kmap = kmaps[db_id]
    g = evaluation.rebuild_sql_col(evaluation.build_valid_col_units(g["from"]["table_units"], schema),
                                   evaluation.rebuild_sql_val(g), kmap)
    p = evaluation.rebuild_sql_col(evaluation.build_valid_col_units(p["from"]["table_units"], schema),
                                   evaluation.rebuild_sql_val(p), kmap)
    print(int(bool(evaluation.Evaluator().eval_exact_match(copy.deepcopy(p), copy.deepcopy(g)))))
