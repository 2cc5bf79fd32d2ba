"""The single answer's lazy parts (recommend/_plan.py ``Screen``, _decide.py, _recommendation.py)
answer exactly what the eager ones did: an option skipped because the screen remembers the
rules excluding it changes no answer; the article's configuration and the rules' texts,
worked out on first use, equal those an evaluation with every option works out; pickling,
copying and sending a recommendation between processes work them out first."""

from __future__ import annotations

import copy
import pickle
import threading
from unittest import mock

import attrs
from hypothesis import given
from strategies import LAW, Reach, workloads

import r1rules
from r1rules import Recommendation, Workload, evaluate
from r1rules.recommend import _transport
from r1rules.recommend._options import Option
from r1rules.recommend._plan import EXCLUDED_FACT, Screen, plan_of
from r1rules.recommend._recommendation import Later
from r1rules.ruleset import Assignment, HitPolicy, Rule, Table
from r1rules.ruleset import Test as Condition

R1 = Workload(
    model="deepseek-r1", peak_qps=20, latency_ms=2000, prompt_tokens=2048, output_tokens=4096
)


def _rule(rule_id: str, table: str, index: int, reads: str, sets: str, value: bool) -> Rule:
    return Rule(
        rule_id,
        rule_id,
        "test",
        "test",
        table,
        "x.toml",
        index,
        (Condition(reads, "eq", "a"),),
        (Assignment(sets, value),),
        (),
        (),
        (),
    )


def _table(table_id: str, *rules: Rule) -> Table:
    return Table(table_id, table_id, HitPolicy.COLLECT, False, "x.toml", rules, 3)


def test_the_shipped_rules_screen_by_the_eligibility_rules_facts() -> None:
    screen = plan_of(r1rules.default_rules()).screen
    assert screen is not None
    eligibility = [t for _, tables in plan_of(r1rules.default_rules()).post for t in tables]
    read = {
        name
        for table in eligibility
        if any(a.fact == EXCLUDED_FACT for r in table.rules for a in r.sets)
        for rule in table.rules
        for name in rule.condition_facts
    }
    assert set(screen.names) == read | {EXCLUDED_FACT}
    assert {"stage", "gpu_segment", "gpu_pinned"} <= read


def test_no_screen_when_a_rule_after_sizing_sets_what_the_exclusion_reads() -> None:
    excluding = _table("eligibility", _rule("ex", "eligibility", 0, "kind", EXCLUDED_FACT, True))
    setting_kind = _table("kinds", _rule("k", "kinds", 1, "other", "kind", True))
    unrelated = _table("notes", _rule("n", "notes", 2, "kind", "note", True))
    screen = Screen.of([(3, [excluding, unrelated])])
    assert screen is not None and screen.names == (EXCLUDED_FACT, "kind")
    assert Screen.of([(3, [excluding, setting_kind])]) is None  # its value may change
    assert Screen.of([(3, [unrelated])]) is None  # nothing excludes: nothing to screen
    copied = _rule("c", "eligibility", 0, "kind", EXCLUDED_FACT, True)
    copied = attrs.evolve(copied, sets=(Assignment(EXCLUDED_FACT, None, "verdict"),))
    screen = Screen.of([(3, [_table("eligibility", copied)])])
    assert screen is not None and "verdict" in screen.names  # a value it copies decides too


def test_a_screen_keys_values_by_type_and_remembers_a_bounded_number() -> None:
    screen = Screen(("x",))
    assert screen.key({"x": 1}) != screen.key({"x": True})  # 1 == True, not for the engine
    assert screen.key({}) == screen.key({"x": None})
    screen.learn(screen.key({"x": 1}), True)
    screen.learn(screen.key({"x": 2}), False)
    assert screen.excluded(screen.key({"x": 1})) and not screen.excluded(screen.key({"x": 2}))
    assert len(screen._known) == 1  # only exclusions are kept
    with mock.patch.object(Screen, "LIMIT", 1):
        screen.learn(screen.key({"x": 3}), True)
    assert screen.excluded(screen.key({"x": 3}))  # full: it started over
    assert not screen.excluded(screen.key({"x": 1}))


def test_screened_answers_are_the_answers_without_a_screen() -> None:
    """Law: whatever the screen remembers, evaluate answers what it answers when the rules
    run on every option in turn; the examples must include options the screen skipped."""
    reach = Reach("screened answers")
    real = Screen.excluded
    skipped: list[bool] = []

    def recording(screen: Screen, key: tuple[object, ...]) -> bool:
        verdict = real(screen, key)
        skipped.append(verdict)
        return verdict

    @LAW
    @given(workload=workloads(pinned=False))
    def law(workload: Workload) -> None:
        reach.run()
        try:
            with mock.patch.object(Screen, "excluded", recording):
                fast = evaluate(workload, options=False)
        except r1rules.R1RulesError as exc:
            reach.note(type(exc).__name__)
            return
        with mock.patch.object(Screen, "excluded", return_value=False):
            plain = evaluate(workload, options=False)
        reach.hit()
        assert (fast.gpu, fast.nodes, fast.cost, fast.facts) == (
            plain.gpu,
            plain.nodes,
            plain.cost,
            plain.facts,
        )
        assert fast.trace == plain.trace and fast.chosen == plain.chosen

    law()
    reach.check()
    assert any(skipped), "no example had an option the screen skipped"


def _held(rec: Recommendation, name: str) -> object:
    """What the field holds, a ``Later`` not worked out."""
    return Recommendation.__dict__[name].slot.__get__(rec, Recommendation)


def _unranked(option: Option) -> Option:
    return attrs.evolve(option, rank=0, pareto=False, chosen=False)


def test_the_article_worked_out_later_is_the_one_every_option_lists() -> None:
    """Law: ``article`` read from ``evaluate(w, options=False)`` equals the article's
    option of ``evaluate(w)`` (but for rank, Pareto mark and chosen flag)."""
    reach = Reach("lazy article")
    later: list[bool] = []

    @LAW
    @given(workload=workloads())
    def law(workload: Workload) -> None:
        reach.run()
        try:
            fast = evaluate(workload, options=False)
        except r1rules.R1RulesError as exc:
            reach.note(type(exc).__name__)
            return
        later.append(type(_held(fast, "article")) is Later)
        full = evaluate(workload)
        reach.hit()
        assert _unranked(fast.article) == _unranked(full.article)
        assert fast.article is fast.article  # worked out once
        assert (fast.notes, fast.warnings) == (full.notes, full.warnings)

    law()
    reach.check()
    assert any(later) and not all(later), "the article was always (or never) worked out later"


def test_texts_and_article_are_worked_out_once_whichever_thread_reads_first() -> None:
    rec = evaluate(R1, options=False)
    assert type(_held(rec, "article")) is Later and type(_held(rec, "notes")) is Later
    seen: list[tuple[object, ...]] = []
    threads = [
        threading.Thread(target=lambda: seen.append((rec.article, rec.notes, rec.warnings)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and all(s == seen[0] for s in seen)
    assert isinstance(_held(rec, "article"), Option) and type(_held(rec, "notes")) is tuple
    assert rec.article.gpu == "h100-sxm" and not rec.article.chosen  # the article's H100
    assert any("h100-sxm" in n.text for n in rec.notes)


def test_pickle_copy_and_attrs_see_worked_out_values() -> None:
    rec = evaluate(R1, options=False)
    data = pickle.dumps(rec)
    back = pickle.loads(data)
    assert isinstance(_held(back, "article"), Option)  # no recipe travelled
    assert (back.article, back.notes, back.warnings) == (rec.article, rec.notes, rec.warnings)
    assert back.to_dict() == rec.to_dict()
    fresh = evaluate(R1, options=False)
    assert copy.copy(fresh).article == rec.article
    plain = attrs.asdict(evaluate(R1, options=False), recurse=False)
    assert isinstance(plain["article"], Option) and isinstance(plain["notes"], tuple)
    assert {"notes", "warnings", "article"} <= set(attrs.fields_dict(Recommendation))
    assert not any(type(v) is Later for v in attrs.astuple(fresh, recurse=False))


def test_a_value_set_by_hand_is_read_as_it_is() -> None:
    rec = evaluate(R1, options=False)
    assert attrs.evolve(rec, notes=()).notes == ()
    assert attrs.evolve(rec, article=rec.chosen).article is rec.chosen
    state = {a.name: getattr(rec, a.name) for a in attrs.fields(Recommendation)}
    again = Recommendation.__new__(Recommendation)
    again.__setstate__(state)  # type: ignore[attr-defined]  # attrs' own, as pickle calls it
    assert again.warnings == rec.warnings and again.article == rec.article


def test_a_recommendation_sent_between_processes_is_sent_worked_out() -> None:
    rules = r1rules.default_rules()
    rec = evaluate(R1, options=False)
    parts = _transport.encode(rec, R1, rules)
    back = _transport.decode(parts, R1, rules)  # type: ignore[arg-type]
    assert isinstance(_held(back, "article"), Option) and type(_held(back, "notes")) is tuple
    assert back.article == rec.article and back.warnings == rec.warnings


def test_the_repr_shows_the_texts_worked_out() -> None:
    rec = evaluate(R1, options=False)
    text = repr(rec)
    assert text.startswith("Recommendation(edition=") and "Later" not in text
    assert f"notes={rec.notes!r}" in text and f"warnings={rec.warnings!r}" in text
