"""Error messages in Simplified Chinese and English, keyed by the error's stable code, and the choice
between them by ``Accept-Language``.

The domain raises English messages that name the field and the fix (``lon: 200.0 is not a longitude``);
a grid worker's phone is in Chinese. Rather than translate every f-string in ``gis/``, each error class
(the ``code`` of the body) has one Chinese sentence here, looked up along the class's MRO like the status
table in ``api.errors``, and the field the English message names is carried over, in Chinese where it has a name
(``（经度）``). The English message stays exactly the domain's, so nothing a program or a log reads changes.
"""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")

# code → Chinese message. Codes are class names (``type(error).__name__``) and the two codes api.errors
# makes itself. A class not listed gets its nearest listed parent's sentence.
ZH: dict[str, str] = {
    "WanggeError": "请求无法完成",
    "NotFound": "未找到所请求的对象",
    "Conflict": "操作与当前数据冲突",
    "StaleVersion": "该案件已被他人修改，请刷新后重试",
    "Unauthenticated": "请先登录（登录已过期或凭据无效）",
    "Forbidden": "无权进行此操作",
    "OutsideJurisdiction": "该对象不在您的管辖范围内",
    "InvalidInput": "输入有误，请检查后重试",
    "SetupError": "系统尚未配置完成，请联系管理员",
    "ValidationFailed": "数据校验未通过，未写入任何内容",
    "UnknownState": "未知的案件状态或操作",
    "TransitionNotAllowed": "案件当前状态不允许此操作",
    "RoleNotAllowed": "您的角色不能进行此操作",
    "NotResponsible": "该案件不属于您所在的队伍",
    "IsDuplicate": "该案件已并入另一案件，请在原案件上操作",
    "PersonalDataInLayer": "图层含有个人信息，不能导出",
    "OutsideEveryCommunity": "位置不在任何社区范围内",
    "OutsideOpeningHours": "所选时间不在开放时间内",
    "CapacityExceeded": "超出场所容量",
    "BookingConflict": "该时段已被预约",
    "OpeningHoursError": "开放时间格式有误",
    "TooManyCells": "网格数量超出上限",
    "BadParameter": "查询参数有误",
    "RequestValidationError": "请求数据有误",
    "DatabaseUnavailable": "数据库暂时不可用，未做任何修改，请稍后重试",
    "ValueNotStorable": "输入中含有无法保存的内容（空字符或超出范围的数字），未做任何修改",
    "ContentTooLarge": "上传内容超过该接口允许的大小",
    "IdempotencyKeyReused": "该幂等键已用于另一请求，新的上报请换一个键",
    "BadRequest": "请求格式有误",
    "MethodNotAllowed": "该地址不支持此请求方法",
    "UnsupportedMediaType": "不支持的内容类型（Content-Type）",
    "PreconditionRequired": "请带上版本号（If-Match 或 version）",
    "TooManyRequests": "尝试次数过多，请稍后再试",
}

# Where one field of one code deserves its own sentence (what a grid worker most often meets).
ZH_BY_FIELD: dict[tuple[str, str], str] = {
    ("InvalidInput", "location"): "所选位置不在任何社区范围内，请在社区范围内选点",
    ("InvalidInput", "lon/lat"): "经纬度似乎填反了，请检查",
    ("InvalidInput", "note"): "此操作需要填写原因",
    ("InvalidInput", "photos"): "照片有误或缺少处置后照片",
    ("InvalidInput", "category_code"): "问题类别无效",
    ("BookingConflict", "slot"): "该时段已被预约，请换一个时段",
    ("OutsideOpeningHours", "starts_at/ends_at"): "所选时间不在开放时间内",
}

# Field names in Chinese; a field not listed is shown as the API names it.
FIELD_ZH: dict[str, str] = {
    "lon": "经度", "lat": "纬度", "lon/lat": "经纬度", "location": "位置", "category_code": "问题类别",
    "category": "问题类别", "description": "问题描述", "photos": "照片", "photo": "照片", "note": "原因说明",
    "address": "地址", "data.team_id": "处置队伍", "data.deadline_at": "新的时限", "data.hours": "延长工时",
    "data.original_id": "原案件", "original": "原案件", "version": "版本", "username": "用户名",
    "password": "密码", "bbox": "地图范围", "to": "操作", "kind": "照片类型", "slot": "时段",
    "role": "角色", "jurisdiction": "管辖范围", "cells": "网格", "team": "队伍",
    "starts_at": "开始时间", "ends_at": "结束时间", "quantity": "数量", "community_code": "社区", "day": "日期",
}

# Field names as the domain's messages start with them: ``lon: …``, ``data.team_id: …``, ``lon/lat: …``.
_FIELD = re.compile(r"^([a-z][a-z0-9_]*(?:[./][a-z0-9_]+)*): ")


def zh_message(codes: list[str], english: str, field: str | None = None) -> str:
    """The Chinese message for an error whose class and parents are ``codes`` (nearest first).

    ``field``: the field the error is about; by default the one the English message starts with."""
    if field is None:
        match = _FIELD.match(english)
        field = match.group(1) if match else None
    if field is not None:
        own = next((ZH_BY_FIELD[c, field] for c in codes if (c, field) in ZH_BY_FIELD), None)
        if own is not None:
            return own
    sentence = next((ZH[c] for c in codes if c in ZH), ZH["WanggeError"])
    return f"{sentence}（{FIELD_ZH.get(field, field)}）" if field else sentence


def messages(codes: list[str], english: str, field: str | None = None) -> dict[Lang, str]:
    return {"zh-CN": zh_message(codes, english, field), "en": english}


def preferred_language(accept_language: str | None) -> Lang:
    """zh-CN when the caller prefers Chinese (any ``zh…`` ranked above every ``en…``), else en.

    English stays the default for a client that says nothing: scripts and the API's own tests read it."""
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang: Lang | None = "zh-CN" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if lang is None or q <= 0:
            continue
        if best is None or (q, -position) > (best[0], best[1]):
            best = (q, -position, lang)
    return best[2] if best else "en"
