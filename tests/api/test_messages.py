"""api.messages: the Chinese sentence of each error code, and the language a caller asks for."""

import pytest

from api.messages import ZH, preferred_language, zh_message
from api.routes.ogc import BadParameter
from gis import errors
from gis.facilities import bookings
from gis.incidents import workflow


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"), ("", "en"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh-TW", "zh-CN"), ("en-US", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("en;q=0.9,zh;q=0.8", "en"), ("fr,zh;q=0.5", "zh-CN"),
        ("de", "en"), ("zh;q=0", "en"), ("zh;q=bad,en", "en"), ("en,zh-CN", "en"), ("zh;q=0.8,en;q=0.8", "zh-CN"),
    ],
)
def test_the_language_is_the_best_ranked_of_chinese_and_english(header: str | None, lang: str) -> None:
    assert preferred_language(header) == lang


def test_every_error_class_of_the_domain_has_a_sentence_of_its_own_or_of_a_parent() -> None:
    classes = [errors.NotFound, errors.StaleVersion, errors.OutsideJurisdiction, errors.ValidationFailed,
               workflow.TransitionNotAllowed, workflow.NotResponsible, bookings.BookingConflict, BadParameter]
    for cls in classes:
        assert cls.__name__ in ZH, cls


def test_the_field_of_the_english_message_is_carried_over() -> None:
    assert zh_message(["InvalidInput"], "data.team_id: no team 9") == "输入有误，请检查后重试（处置队伍）"
    assert zh_message(["InvalidInput"], "lon/lat: looks swapped") == "经纬度似乎填反了，请检查"
    outside = zh_message(["UnknownState", "InvalidInput"], "location: 300 m from X")
    assert outside == "所选位置不在任何社区范围内，请在社区范围内选点"
    assert zh_message(["InvalidInput"], "a_new_field: bad") == "输入有误，请检查后重试（a_new_field）"
    assert zh_message(["NotFound"], "no incident JS-2026-000001") == "未找到所请求的对象"
    assert zh_message(["Nobody"], "x") == ZH["WanggeError"]
