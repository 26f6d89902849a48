"""Test helpers shared by every domain's tests: factories and the named demo centre.

The named people (used across the suite, like fixtures in a story):
- 小王 (``xiaowang``): agent in 医院客户组 (hospital team), service-centre department
- 小李 (``xiaoli``): agent in 患者热线组 (patient hotline team)
- 赵组长 (``zhaolead``): team lead of the hospital team
- 李经理 (``limanager``): manager, sees everything
- 管理员 (``admin``): administrator
- 质量部 陈工 (``chenqa``): quality department staff, sees cases that involve quality
- 张医生: a doctor (customer) at 北京协和医院 (organisation customer), grade A
"""

from __future__ import annotations

import factory
from django.utils import timezone

from kefu.cases.models import Case, CaseType
from kefu.customers.models import Customer, Grade
from kefu.people.models import Department, Team, User

PASSWORD = "kefu-test-pass-2026"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"部门{n}")
    code = factory.Sequence(lambda n: f"dept{n}")
    kind = Department.Kind.BACK


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    role = User.Role.AGENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"团队{n}")
    department = factory.SubFactory(DepartmentFactory)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"客户{n}")
    kind = Customer.Kind.PERSON


class CaseFactory(factory.django.DjangoModelFactory):
    """A bare case row for read tests. Tests of behaviour create cases through the service."""

    class Meta:
        model = Case

    subject = factory.Sequence(lambda n: f"咨询药品说明书 {n}")
    type = factory.LazyFunction(lambda: CaseType.objects.get(code="inquiry"))
    channel = "phone"
    customer = factory.SubFactory(CustomerFactory)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class Centre:
    """The named demo centre for tests, built once per test through the services."""

    def __init__(self):
        from kefu.customers import services as customer_services

        self.service_dept = DepartmentFactory(name="客户服务中心", code="service", kind=Department.Kind.FRONT)
        self.quality_dept = DepartmentFactory(name="质量部", code="quality")
        self.logistics_dept = DepartmentFactory(name="物流部", code="logistics")
        self.xiaowang = UserFactory(username="xiaowang", display_name="小王", department=self.service_dept)
        self.xiaoli = UserFactory(username="xiaoli", display_name="小李", department=self.service_dept)
        self.zhaolead = UserFactory(username="zhaolead", display_name="赵组长", role=User.Role.TEAM_LEAD,
                                    department=self.service_dept)
        self.limanager = UserFactory(username="limanager", display_name="李经理", role=User.Role.MANAGER,
                                     department=self.service_dept, is_staff=True)
        self.admin = UserFactory(username="admin", display_name="管理员", role=User.Role.ADMIN,
                                 is_staff=True, is_superuser=True)
        self.chenqa = UserFactory(username="chenqa", display_name="陈工", department=self.quality_dept)
        self.hospital_team = TeamFactory(name="医院客户组", department=self.service_dept, lead=self.zhaolead)
        self.hospital_team.members.set([self.xiaowang, self.zhaolead])
        self.hotline_team = TeamFactory(name="患者热线组", department=self.service_dept)
        self.hotline_team.members.set([self.xiaoli])
        self.grade_a = Grade.objects.get(code="A")
        self.hospital = customer_services.create_customer(
            self.admin, name="北京协和医院", kind=Customer.Kind.ORGANISATION, org_type="hospital",
            grade=self.grade_a, grade_reason="三甲医院, 年采购额前 5%")
        self.zhangdoctor = customer_services.create_customer(
            self.admin, name="张医生", organisation=self.hospital, title="药剂科主任",
            identities=[("phone", "13800138000"), ("email", "zhang@example.com")],
            grade=self.grade_a, grade_reason="核心医院的关键联系人")
        self.inquiry = CaseType.objects.get(code="inquiry")
        self.complaint = CaseType.objects.get(code="complaint")
        self.refund = CaseType.objects.get(code="refund")
