import json

from linernotes import Draft, Fact, FactPack, Item, to_dict, to_json


def test_draft_citations_in_order_of_first_appearance():
    assert Draft("a [3] b [1] c [3] d [12]", "t").citations == [3, 1, 12]


def test_fact_pack_numbers_facts_from_one_and_allows_picks_and_history():
    facts = [Fact("a", "1", "stats", "A has 2 listeners.", {"listeners": 2})]
    pack = FactPack("r", "2", [Item("1", "A")], [Item("9", "Z")], facts)
    assert pack.fact(1) is facts[0]
    assert pack.fact(0) is None and pack.fact(2) is None
    assert pack.allowed_names() == {"A", "Z"}
    assert json.loads(json.dumps(to_dict(pack)))["facts"][0]["values"] == {"listeners": 2}


def test_to_json_is_to_dict_as_json_text():
    pack = FactPack("r", "2", [Item("1", "Björk")], [], [])
    assert json.loads(to_json(pack)) == to_dict(pack)
    assert "Björk" in to_json(pack)  # not escaped
    assert to_json(pack, indent=2).startswith('{\n  "request_id"')
