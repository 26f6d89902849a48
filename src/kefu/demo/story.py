"""The named demo customers' cases, worked step by step through the cases service (with past times).

They are what a visitor meets first: the portal customer 王秀英 has a solved inquiry, a complaint waiting on
the logistics and quality departments, a question answered on the phone and a new request; the hospital's
pharmacy director 张明华 and the hospital itself have cases with a transfer and a reopen.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from kefu.cases import services
from kefu.cases.models import CaseType, Message

from .centre import CentreRefs

C, S, N = Message.Kind.CUSTOMER, Message.Kind.STAFF, Message.Kind.NOTE
MINUTE, HOUR, DAY = 60, 3600, 86400


def tell(refs: CentreRefs, people: dict, now: float | None = None) -> list[int]:
    """Create the story cases; returns their ids."""
    now = time.time() if now is None else now
    staff = refs.staff
    teams = refs.teams
    depts = refs.departments
    types = {t.code: t for t in CaseType.objects.all()}
    patient, doctor, hospital = people["patient"], people["doctor"], people["hospital"]

    def at(seconds_ago: float) -> datetime:
        return datetime.fromtimestamp(now - seconds_ago, UTC)

    ids = []

    # 1. 王秀英 asks on WeChat how to take her blood-pressure tablets: answered, solved, closed.
    t = 40 * DAY
    case = services.create_case(
        patient, customer=patient, subject="咨询泰宁苯磺酸氨氯地平片的用法用量", type=types["inquiry"],
        channel="wechat", stage="in_sale", team=teams["hotline"],
        body="您好,医生给我开了泰宁苯磺酸氨氯地平片,想问一下每天什么时候吃比较好?可以和阿司匹林一起吃吗?",
        at=at(t))
    services.assign(staff["sunlead"], case, staff["xiaoli"], at=at(t - 8 * MINUTE))
    services.add_message(staff["xiaoli"], case, kind=S, at=at(t - 21 * MINUTE),
                         body="王女士您好,泰宁苯磺酸氨氯地平片一般每日一次、每次 1 片,建议每天早上固定时间服用。"
                              "与阿司匹林一般可以同时使用,具体请遵医嘱。用药期间请注意监测血压。")
    services.add_message(patient, case, kind=C, body="好的,明白了,谢谢小李!", at=at(t - 50 * MINUTE))
    services.change_status(staff["xiaoli"], case, "solved", at=at(t - 55 * MINUTE))
    services.change_status(None, case, "closed", reason="auto_close", at=at(t - 4 * DAY))
    ids.append(case.pk)

    # 2. 王秀英 complains in the portal that her parcel arrived damaged: waiting on logistics and quality.
    t = 6 * DAY
    case = services.create_case(
        patient, customer=patient, subject="收到的康泰牌维生素D滴剂外包装破损", type=types["complaint"],
        channel="portal", stage="after_sale", priority="high", team=teams["complaints"],
        departments=[depts["logistics"], depts["quality"]],
        body="今天收到快递,打开发现有 2 盒康泰牌维生素D滴剂外包装压坏了,有一瓶漏了,这样的药还能吃吗?", at=at(t))
    services.assign(staff["zhoulead"], case, staff["gaoxiang"], at=at(t - 15 * MINUTE))
    services.add_message(staff["gaoxiang"], case, kind=S, at=at(t - 32 * MINUTE),
                         body="王女士您好,非常抱歉!请先不要使用破损的药品。麻烦您拍一下破损外包装和快递面单的照片发给我们,"
                              "核实后为您补发。")
    services.change_status(staff["gaoxiang"], case, "pending", at=at(t - 33 * MINUTE))
    services.add_message(patient, case, kind=C, body="照片已经上传了,一共 2 盒,批号 2509117。",
                         at=at(t - 3 * HOUR))
    services.add_message(staff["gaoxiang"], case, kind=N, at=at(t - 3 * HOUR - 20 * MINUTE),
                         body="已转物流部和质量部判定破损责任,批号 2509117,等待回复。")
    services.change_status(staff["gaoxiang"], case, "on_hold", at=at(t - 3 * HOUR - 21 * MINUTE))
    services.add_message(staff["sunqiang"], case, kind=N, at=at(t - 1 * DAY),
                         body="物流部:运单在杭州中转站有挤压记录,已向承运商索赔,同意补发,等质量部确认。")
    ids.append(case.pk)

    # 3. 王秀英 asks on the phone about medical insurance: answered and solved.
    t = 3 * DAY
    case = services.create_case(
        staff["xiaoli"], customer=patient, subject="泰宁苯磺酸氨氯地平片能否医保报销", type=types["inquiry"],
        channel="phone", stage="in_sale", team=teams["hotline"], assignee=staff["xiaoli"],
        body="来电:请问泰宁苯磺酸氨氯地平片在杭州能用医保报销吗?门诊慢病能不能报?", at=at(t))
    services.add_message(staff["xiaoli"], case, kind=S, at=at(t - 6 * MINUTE),
                         body="王女士您好,该药品在国家医保目录内(甲类),门诊慢病可按杭州当地政策报销,"
                              "我把医保经办机构的咨询电话发到您的微信上了。")
    services.change_status(staff["xiaoli"], case, "solved", at=at(t - 7 * MINUTE))
    ids.append(case.pk)

    # 4. 王秀英 writes on WeChat two hours ago about a double charge: new, not yet picked up.
    case = services.create_case(
        patient, customer=patient, subject="商城订单付款扣了两次钱", type=types["refund"], channel="wechat",
        stage="in_sale", team=teams["hotline"],
        body="我在你们官方商城买维生素D滴剂,付款的时候页面卡住了,结果扣了两次款,一共 70 元,请退一笔给我。",
        at=at(2 * HOUR))
    ids.append(case.pk)

    # 5. 张明华 asks by e-mail for cold-chain temperature records: solved and closed after the departments answered.
    t = 20 * DAY
    case = services.create_case(
        doctor, customer=doctor, subject="康泰牌人胰岛素注射液到货温度记录查询", type=types["after_sale"],
        channel="email", stage="after_sale", priority="high", team=teams["hospital"],
        departments=[depts["logistics"], depts["quality"]],
        body="你好,我们收到的康泰牌人胰岛素注射液(批号 2507031)需要全程冷链温度记录,用于药剂科入库验收,请尽快提供。",
        at=at(t))
    services.assign(staff["zhaolead"], case, staff["xiaowang"], at=at(t - 20 * MINUTE))
    services.add_message(staff["xiaowang"], case, kind=S, at=at(t - 45 * MINUTE),
                         body="张主任您好,请先将药品放入 2~8℃冷藏保存,我马上调取运输温度记录,今天内回复您。\n\n"
                              "康泰制药客户服务中心 小王\n服务热线 400-800-5678")
    services.add_message(staff["chenqa"], case, kind=N, at=at(t - 5 * HOUR),
                         body="质量部:温度记录显示全程 2~8℃,在稳定性数据范围内,可以正常入库使用。")
    services.add_message(staff["xiaowang"], case, kind=S, at=at(t - 6 * HOUR),
                         body="张主任您好,全程温度记录和质量部的评估说明已作为附件发送,这批药品可以正常入库使用。\n\n"
                              "康泰制药客户服务中心 小王\n服务热线 400-800-5678")
    services.add_message(doctor, case, kind=C, body="收到,谢谢。", at=at(t - 7 * HOUR))
    services.change_status(staff["xiaowang"], case, "solved", at=at(t - 7 * HOUR - 10 * MINUTE))
    services.change_status(None, case, "closed", reason="auto_close", at=at(t - 5 * DAY))
    ids.append(case.pk)

    # 6. 张明华 asks for the latest package insert yesterday: open, answered once.
    t = 1 * DAY
    case = services.create_case(
        doctor, customer=doctor, subject="索取泰欣盐酸二甲双胍缓释片最新版说明书", type=types["inquiry"],
        channel="email", stage="in_sale", team=teams["hospital"],
        body="您好,药事委员会下周开会,需要泰欣盐酸二甲双胍缓释片最新版说明书电子版,麻烦发到我邮箱。", at=at(t))
    services.assign(staff["xiaowang"], case, staff["xiaowang"], at=at(t - 30 * MINUTE))
    services.add_message(staff["xiaowang"], case, kind=S, at=at(t - 50 * MINUTE),
                         body="张主任您好,已收到,我们会在今天内把最新版说明书(含修订日期)发送到您的邮箱。\n\n"
                              "康泰制药客户服务中心 小王\n服务热线 400-800-5678")
    ids.append(case.pk)

    # 7. The hospital phones about a late delivery: transferred to the complaints team, solved, reopened, solved.
    t = 10 * DAY
    case = services.create_case(
        staff["xiaowang"], customer=hospital, subject="订单 KT20261101 物流延误,6 天未到货", type=types["complaint"],
        channel="phone", stage="in_sale", priority="high", team=teams["hospital"], assignee=staff["xiaowang"],
        body="来电:药剂科反映订单 KT20261101 下单 6 天还没到货,病房快断货了,要求今天给答复。", at=at(t))
    services.transfer(staff["xiaowang"], case, team=teams["complaints"], assignee=staff["linyue"],
                      reason="客户要求升级处理", at=at(t - 10 * MINUTE))
    services.add_message(staff["linyue"], case, kind=S, at=at(t - 40 * MINUTE),
                         body="您好,非常抱歉。订单由顺丰速运承运,已协调加急派送,预计明天上午送达,我会跟进签收。")
    services.add_message(staff["linyue"], case, kind=S, at=at(t - 1 * DAY),
                         body="您好,物流显示货物已于今天上午签收,请核对数量。这次延误我们已反馈物流部改进,再次致歉。")
    services.change_status(staff["linyue"], case, "solved", at=at(t - 1 * DAY - 5 * MINUTE))
    services.add_message(staff["linyue"], case, kind=C, at=at(t - 2 * DAY),
                         body="来电:核对后发现少了 2 箱,要求补发。")
    services.add_message(staff["linyue"], case, kind=S, at=at(t - 2 * DAY - 30 * MINUTE),
                         body="您好,已核实是分拣遗漏,2 箱已补发,运单号 SF102938475610,明天上午送达。")
    services.change_status(staff["linyue"], case, "solved", at=at(t - 3 * DAY))
    ids.append(case.pk)
    return ids
