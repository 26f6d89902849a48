"""The demo company 康泰制药: its departments, teams, staff and named customers, made through the services.

Everything is created only when missing (looked up by department code, team name, username, identity), so
``kefu seed`` can call :func:`ensure_centre` on any database and ``kefu demo`` can run twice.

The demo logins (demo only: the password is public, printed by ``kefu demo`` and documented in
docs/demo.md) are in :data:`LOGINS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kefu.customers import services as customer_services
from kefu.customers.models import Customer, Grade
from kefu.people import services as people_services
from kefu.people.models import Department, Team, User

DEMO_PASSWORD = "kefu-demo-2026"

# (code, name, kind)
DEPARTMENTS = [
    ("service", "客户服务中心", Department.Kind.FRONT),
    ("quality", "质量部", Department.Kind.BACK),
    ("logistics", "物流部", Department.Kind.BACK),
    ("finance", "财务部", Department.Kind.BACK),
    ("medical", "医学部", Department.Kind.BACK),
    ("sales", "销售部", Department.Kind.BACK),
]

# (key, name, lead username): every team belongs to the service centre.
TEAMS = [
    ("hospital", "医院客户组", "zhaolead"),
    ("pharmacy", "药店与经销商组", "qianlead"),
    ("hotline", "患者热线组", "sunlead"),
    ("complaints", "投诉处理组", "zhoulead"),
]

A, L, M, ADM = User.Role.AGENT, User.Role.TEAM_LEAD, User.Role.MANAGER, User.Role.ADMIN
# (username, display name, role, department code, team keys)
STAFF = [
    ("admin", "管理员", ADM, "service", ()),
    ("limanager", "李经理", M, "service", ()),
    ("wangzong", "王总监", M, "service", ()),
    ("zhaolead", "赵组长", L, "service", ("hospital",)),
    ("qianlead", "钱组长", L, "service", ("pharmacy",)),
    ("sunlead", "孙组长", L, "service", ("hotline",)),
    ("zhoulead", "周组长", L, "service", ("complaints",)),
    ("xiaowang", "小王", A, "service", ("hospital",)),
    ("liuyang", "刘洋", A, "service", ("hospital",)),
    ("chenjing", "陈静", A, "service", ("hospital",)),
    ("yangfan", "杨帆", A, "service", ("hospital",)),
    ("huanglei", "黄磊", A, "service", ("pharmacy",)),
    ("wuting", "吴婷", A, "service", ("pharmacy",)),
    ("xuli", "徐丽", A, "service", ("pharmacy",)),
    ("machao", "马超", A, "service", ("pharmacy",)),
    ("xiaoli", "小李", A, "service", ("hotline",)),
    ("zhulin", "朱琳", A, "service", ("hotline",)),
    ("hubin", "胡斌", A, "service", ("hotline",)),
    ("guomin", "郭敏", A, "service", ("hotline",)),
    ("hexin", "何欣", A, "service", ("hotline",)),
    ("gaoxiang", "高翔", A, "service", ("complaints",)),
    ("linyue", "林悦", A, "service", ("complaints",)),
    ("luochen", "罗晨", A, "service", ("complaints",)),
    ("chenqa", "陈工", A, "quality", ()),
    ("sunqiang", "孙强", A, "logistics", ()),
    ("liukuaiji", "刘会计", A, "finance", ()),
    ("zhengyisheng", "郑医生", A, "medical", ()),
    ("fengjingli", "冯经理", L, "sales", ()),
]

# The back-office colleague who answers for each department in the seeded conversations.
DEPARTMENT_CONTACT = {"quality": "chenqa", "logistics": "sunqiang", "finance": "liukuaiji",
                      "medical": "zhengyisheng", "sales": "fengjingli"}

# The logins ``kefu demo`` prints: (role label, username). Only these accounts get the demo password; the
# other demo staff have no usable password (an administrator can set one in the admin), which keeps
# seeding fast: every password hash costs half a second on purpose.
LOGINS = [
    (gettext_lazy("agent"), "xiaowang"),
    (gettext_lazy("team lead"), "zhaolead"),
    (gettext_lazy("manager"), "limanager"),
    (gettext_lazy("administrator"), "admin"),
    (gettext_lazy("back office (quality)"), "chenqa"),
]
LOGIN_USERNAMES = frozenset(username for _label, username in LOGINS)

# The named customers; the first is the one printed for the customer portal.
# (name, title, organisation name or "", identities, grade, grade reason, tags)
PORTAL_CUSTOMER = {
    "name": "王秀英", "title": "患者", "region": "浙江·杭州",
    "identities": [("phone", "13800138001"), ("email", "wang.xiuying@example.com"),
                   ("wechat_openid", "oKT2demoWangXiuYing0000000001")],
    "grade": "B", "grade_reason": "高血压慢病患者,每月复购,参加过患者教育活动",
    "tags": ["慢病患者", "高血压", "医保患者"],
    "needs": "长期用药提醒;清楚的用法用量说明", "preferences": "微信联系,晚上七点后",
    "expectations": "问题当天有回复",
}
HOSPITAL = {
    "name": "杭州市第一人民医院", "org_type": "hospital", "region": "浙江·杭州",
    "identities": [("phone", "057186668888"), ("email", "yaojuke@hospital1.example.com")],
    "grade": "A", "grade_reason": "三甲医院,年采购额 860 万元,位列前 5%", "tags": ["三甲医院", "学术合作"],
}
DOCTOR = {
    "name": "张明华", "title": "药剂科主任", "region": "浙江·杭州",
    "identities": [("phone", "13800138000"), ("email", "zhang.minghua@hospital1.example.com")],
    "grade": "A", "grade_reason": "核心医院药剂科主任,药事委员会委员", "tags": ["意见领袖"],
}


class SeedError(Exception):
    """The database cannot be seeded as asked (a clear message for the command line)."""


@dataclass
class CentreRefs:
    admin: User
    departments: dict[str, Department]
    teams: dict[str, Team]
    staff: dict[str, User]
    created: set[str] = field(default_factory=set)  # usernames made by this call (with the demo password)
    team_agents: dict[str, list[User]] = field(default_factory=dict)
    team_leads: dict[str, User] = field(default_factory=dict)
    department_contacts: dict[str, User] = field(default_factory=dict)


def ensure_centre() -> CentreRefs:
    """The departments, teams and staff of the demo company, created through the services when missing."""
    with transaction.atomic():
        admin = User.objects.filter(username="admin").first()
        departments = {}
        for code, name, kind in DEPARTMENTS:
            dept = Department.objects.filter(code=code).first()
            if dept is None:
                dept = people_services.create_department(admin, name=name, code=code, kind=kind)
            departments[code] = dept
        staff: dict[str, User] = {}
        created: set[str] = set()
        for username, display, role, dept_code, _teams in STAFF:
            user = User.objects.filter(username=username).first()
            if user is None:
                created.add(username)
                user = people_services.create_staff(
                    admin, username=username, password=DEMO_PASSWORD if username in LOGIN_USERNAMES else None,
                    role=role, display_name=display,
                    email=f"{username}@kangtai.example.com", department=departments[dept_code])
            if username == "admin":
                admin = user
            staff[username] = user
        teams = {}
        for key, name, lead in TEAMS:
            team = Team.objects.filter(name=name).first()
            if team is None:
                members = [staff[u] for u, _d, _r, _dc, keys in STAFF if key in keys]
                team = people_services.create_team(admin, name=name, department=departments["service"],
                                                   lead=staff[lead], members=members)
            teams[key] = team
    refs = CentreRefs(admin=admin, departments=departments, teams=teams, staff=staff, created=created)
    for key, team in teams.items():
        members = list(team.members.filter(is_active=True).order_by("pk"))
        agents = [m for m in members if m.role == User.Role.AGENT] or members
        if not agents:
            raise SeedError(_("The team %(team)s has no active members to work its cases.") % {"team": team.name})
        refs.team_agents[key] = agents
        refs.team_leads[key] = team.lead if team.lead_id else agents[0]
    for code, username in DEPARTMENT_CONTACT.items():
        refs.department_contacts[code] = staff[username]
    return refs


def _create_named(actor, spec: dict, *, kind: str = Customer.Kind.PERSON, organisation=None) -> Customer:
    existing = customer_services.find_by_identity(*spec["identities"][0])
    if existing is not None:
        return existing
    fields = {k: spec[k] for k in ("title", "region", "needs", "preferences", "expectations", "org_type")
              if k in spec}
    return customer_services.create_customer(
        actor, name=spec["name"], kind=kind, organisation=organisation, identities=spec["identities"],
        grade=Grade.objects.get(code=spec["grade"]), grade_reason=spec["grade_reason"], tags=spec["tags"],
        **fields)


def ensure_named_customers(refs: CentreRefs) -> dict[str, Customer]:
    """The customers the demo names: the portal customer, a hospital and its pharmacy director."""
    with transaction.atomic():
        patient = _create_named(refs.admin, PORTAL_CUSTOMER)
        hospital = _create_named(refs.admin, HOSPITAL, kind=Customer.Kind.ORGANISATION)
        doctor = _create_named(refs.admin, DOCTOR, organisation=hospital)
    return {"patient": patient, "hospital": hospital, "doctor": doctor}
