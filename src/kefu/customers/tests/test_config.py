"""Customer grades and tags are configuration, written through kefu.customers.services (with events), in the
admin too: a grade that customers have is not deleted, a renamed tag stays on its customers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kefu.core.errors import DomainError
from kefu.core.models import Event
from kefu.core.tests.admin_helpers import errors_of, form_data
from kefu.customers import services
from kefu.customers.models import Customer, Grade, Tag


@pytest.fixture
def admin_client(client, centre):
    client.force_login(centre.admin)
    return client


def events_of(subject_type, subject_id):
    return list(Event.objects.filter(subject_type=subject_type, subject_id=subject_id).order_by("id"))


# --- grades -----------------------------------------------------------------------------------------------

def test_create_update_and_delete_a_grade_with_events(centre):
    grade = services.create_grade(centre.admin, code="S", name="战略客户", name_en="Strategic", rank=0,
                                  description="年采购额前 1%")
    [created] = events_of("grade", grade.pk)
    assert (created.verb, created.data["code"], created.actor) == ("grade.created", "S", centre.admin)

    services.update_grade(centre.admin, grade, name="战略伙伴", rank=1, name_en="Strategic")
    grade = Grade.objects.get(pk=grade.pk)
    assert (grade.name, grade.rank) == ("战略伙伴", 1)
    updated = [(e.field, e.old, e.new) for e in events_of("grade", grade.pk) if e.verb == "grade.updated"]
    assert updated == [("name", "战略客户", "战略伙伴"), ("rank", 0, 1)]  # one per changed field

    services.delete_grade(centre.admin, grade)
    assert not Grade.objects.filter(code="S").exists()
    assert Event.objects.get(verb="grade.deleted", subject_id=created.subject_id).data["code"] == "S"


def test_a_grade_is_checked(centre):
    with pytest.raises(DomainError) as refused:
        services.create_grade(centre.admin, code="A", name="重复")
    assert refused.value.field == "code" and refused.value.code == "conflict"
    for values, field in [({"code": "", "name": "空"}, "code"), ({"code": "TOOLONGCODE", "name": "长"}, "code"),
                          ({"code": "E", "name": " "}, "name"), ({"code": "E", "name": "负", "rank": -1}, "rank")]:
        with pytest.raises(DomainError) as refused:
            services.create_grade(centre.admin, **values)
        assert refused.value.field == field, values
    with pytest.raises(DomainError):
        services.update_grade(centre.admin, centre.grade_a, code="AA")  # the code stays
    assert Grade.objects.filter(code="A").exists() and not Grade.objects.filter(code="E").exists()


def test_a_grade_in_use_is_not_deleted_and_the_message_counts_its_customers(centre):
    with pytest.raises(DomainError) as refused:
        services.delete_grade(centre.admin, centre.grade_a)
    assert refused.value.code == "in_use" and "2" in refused.value.message  # 北京协和医院 and 张医生
    assert Grade.objects.filter(pk=centre.grade_a.pk).exists()
    assert not Event.objects.filter(verb="grade.deleted").exists()


# --- tags -------------------------------------------------------------------------------------------------

def test_create_rename_and_delete_a_tag_with_events(centre):
    tag = services.create_tag(centre.admin, " 重点随访 ")
    assert tag.name == "重点随访"
    services.update_customer(centre.admin, centre.zhangdoctor, tags=["重点随访"])
    services.rename_tag(centre.admin, tag, "重点关怀")
    assert list(centre.zhangdoctor.tags.values_list("name", flat=True)) == ["重点关怀"]  # still on the customer
    renamed = Event.objects.get(verb="tag.renamed", subject_id=tag.pk)
    assert (renamed.old, renamed.new) == ("重点随访", "重点关怀")

    services.delete_tag(centre.admin, tag)
    assert not Tag.objects.filter(name="重点关怀").exists()
    assert not centre.zhangdoctor.tags.exists()
    deleted = Event.objects.get(verb="tag.deleted", subject_id=renamed.subject_id)
    assert deleted.data == {"name": "重点关怀", "customers": 1}


def test_tag_names_are_checked(centre):
    services.create_tag(centre.admin, "VIP")
    other = services.create_tag(centre.admin, "随访")
    with pytest.raises(DomainError) as refused:
        services.create_tag(centre.admin, "VIP")
    assert refused.value.code == "conflict"
    with pytest.raises(DomainError):
        services.rename_tag(centre.admin, other, "VIP")
    with pytest.raises(DomainError):
        services.create_tag(centre.admin, "标" * 51)
    with pytest.raises(DomainError):
        services.rename_tag(centre.admin, other, "")
    assert Tag.objects.get(pk=other.pk).name == "随访"


# --- the admin --------------------------------------------------------------------------------------------

def test_grades_are_added_and_changed_in_the_admin_through_the_services(admin_client, centre):
    url = reverse("admin:customers_grade_add")
    data = form_data(admin_client.get(url))
    data.update(code="S", name="战略客户", name_en="Strategic", rank="0")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    grade = Grade.objects.get(code="S")
    assert Event.objects.filter(verb="grade.created", subject_id=grade.pk, actor=centre.admin).exists()

    url = reverse("admin:customers_grade_change", args=[grade.pk])
    page = admin_client.get(url)
    assert 'name="code"' not in page.content.decode()  # the code is shown, not edited
    data = form_data(page)
    data.update(name="战略伙伴", description="年度框架协议客户")
    response = admin_client.post(url, data)
    assert response.status_code == 302, errors_of(response)
    fields = sorted(Event.objects.filter(verb="grade.updated", subject_id=grade.pk).values_list("field", flat=True))
    assert fields == ["description", "name"]


def test_a_grade_rank_edited_in_the_list_goes_through_update_grade(admin_client, centre):
    b, c = Grade.objects.get(code="B"), Grade.objects.get(code="C")
    url = reverse("admin:customers_grade_changelist")
    rows = list(Grade.objects.order_by("rank", "code"))
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": str(len(rows)), "_save": "保存"}
    for i, grade in enumerate(rows):
        data[f"form-{i}-id"] = str(grade.pk)
        data[f"form-{i}-rank"] = str({b.pk: 9}.get(grade.pk, grade.rank))
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert Grade.objects.get(pk=b.pk).rank == 9
    event = Event.objects.get(verb="grade.updated", subject_id=b.pk)
    assert (event.field, event.new, event.actor) == ("rank", 9, centre.admin)

    # One bad row and no row is saved.
    for i, grade in enumerate(rows):
        data[f"form-{i}-rank"] = str({b.pk: 2, c.pk: -1}.get(grade.pk, grade.rank))
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert Grade.objects.get(pk=b.pk).rank == 9 and Grade.objects.get(pk=c.pk).rank == c.rank
    assert Event.objects.filter(verb="grade.updated").count() == 1


def test_deleting_a_grade_in_use_in_the_admin_shows_the_service_message(admin_client, centre):
    url = reverse("admin:customers_grade_delete", args=[centre.grade_a.pk])
    with pytest.raises(DomainError) as refused:
        services.check_grade_deletable(centre.grade_a)
    for response in (admin_client.get(url, follow=True), admin_client.post(url, {"post": "yes"}, follow=True)):
        assert [str(m) for m in response.context["messages"]] == [refused.value.message]
    assert Grade.objects.filter(pk=centre.grade_a.pk).exists()

    d = Grade.objects.get(code="D")
    changelist = reverse("admin:customers_grade_changelist")
    response = admin_client.post(changelist, {"action": "delete_selected", "_selected_action": [d.pk, centre.grade_a.pk],
                                              "post": "yes"}, follow=True)
    assert refused.value.message in [str(m) for m in response.context["messages"]]
    assert Grade.objects.filter(pk=d.pk).exists()  # nothing deleted

    response = admin_client.post(reverse("admin:customers_grade_delete", args=[d.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Grade.objects.filter(pk=d.pk).exists()
    assert Event.objects.filter(verb="grade.deleted", subject_id=d.pk, actor=centre.admin).exists()


def test_tags_are_added_renamed_and_deleted_in_the_admin_through_the_services(admin_client, centre):
    url = reverse("admin:customers_tag_add")
    response = admin_client.post(url, {**form_data(admin_client.get(url)), "name": "重点随访"})
    assert response.status_code == 302, errors_of(response)
    tag = Tag.objects.get(name="重点随访")
    services.update_customer(centre.admin, centre.zhangdoctor, tags=["重点随访"])

    url = reverse("admin:customers_tag_change", args=[tag.pk])
    response = admin_client.post(url, {**form_data(admin_client.get(url)), "name": "重点关怀"})
    assert response.status_code == 302, errors_of(response)
    assert list(Customer.objects.get(pk=centre.zhangdoctor.pk).tags.values_list("name", flat=True)) == ["重点关怀"]

    response = admin_client.post(reverse("admin:customers_tag_changelist"),
                                 {"action": "delete_selected", "_selected_action": [tag.pk], "post": "yes"})
    assert response.status_code == 302
    assert not Tag.objects.filter(pk=tag.pk).exists()
    assert [e.verb for e in events_of("tag", tag.pk)] == ["tag.created", "tag.renamed", "tag.deleted"]
