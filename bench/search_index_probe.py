#!/usr/bin/env python3
"""Probe of kefu's Chinese full-text index at scale. Prints one JSON document.

    .venv/bin/python bench/search_index_probe.py --cases 1000000            # SQLite in a fresh temp dir
    .venv/bin/python bench/search_index_probe.py --data-dir /tmp/probe      # reuse (seeds up to --cases)
    .venv/bin/python bench/search_index_probe.py --cases 200000 \\
        --database-url postgres://postgres@127.0.0.1:5432/kefu_probe

It seeds synthetic Chinese service conversations (subjects, customer messages, replies and notes with
product names, hospitals, order, phone and batch numbers; a word like 退款 in about a third of the cases)
straight into the tables, indexes them with ``kefu.search.index.index_batch``, then measures through the
public functions (``search_cases`` newest 25, ``count_cases``) as a manager (sees every case) and as an agent
(one team of twelve): p50/p95 for a 2-character word with many hits, a phrase, a rare word, a phone number,
a word in no case, a single character; and the cost of indexing inside the write path (create_case and
add_message through the services on the full index).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

# --- synthetic conversations --------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彬鹏辉国志海婷晨阳欣怡涵浩然雨桐思远嘉俊梓轩诺"
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "重庆", "天津", "苏州", "长沙", "郑州",
          "济南", "青岛", "沈阳", "大连", "厦门", "福州", "合肥", "南昌", "昆明", "贵阳", "南宁", "太原", "石家庄", "兰州",
          "哈尔滨", "长春", "乌鲁木齐", "呼和浩特", "银川", "西宁", "海口", "拉萨", "宁波", "无锡", "佛山", "东莞"]
HOSP_KIND = ["人民医院", "中医院", "妇幼保健院", "儿童医院", "第一人民医院", "第二人民医院", "中心医院", "肿瘤医院",
             "大药房", "医药有限公司", "社区卫生服务中心", "诊所"]
SYL = "阿莫西林布洛芬头孢克肟奥美拉唑二甲双胍氨氯地平托伐他汀甘草板蓝根连花清瘟感冒灵蒙脱石藿香正气云南白药胰岛素硝苯左氧氟沙星甲硝唑罗红霉素维生素钙铁锌"
FORMS = ["片", "胶囊", "颗粒", "注射液", "缓释片", "肠溶片", "口服液", "软膏", "滴眼液", "气雾剂", "分散片", "混悬液"]
COMMON_PRODUCTS = ["阿莫西林胶囊", "布洛芬缓释胶囊", "头孢克肟片", "维生素C片", "奥美拉唑肠溶胶囊", "二甲双胍片",
                   "氨氯地平片", "阿托伐他汀钙片", "板蓝根颗粒", "连花清瘟胶囊", "感冒灵颗粒", "蒙脱石散",
                   "藿香正气水", "胰岛素注射液", "左氧氟沙星片"]
CUSTOMER = [
    "你好，我在{org}买的{product}，{problem}。", "{problem}，订单号{order}，麻烦尽快处理。",
    "请问{product}的用法用量是怎样的？{age}岁的孩子能吃吗？", "我是{name}，电话{phone}，{problem}，希望给个说法。",
    "上次说好{days}天内回复，到现在还没有消息，{problem}。", "收到的{product}批号是{batch}，{problem}。",
    "我们{org}这个月要订{qty}盒{product}，能不能优惠？", "谢谢你们的耐心解答，{praise}。",
    "发票抬头是{org}，税号{tax}，请开增值税专用发票。", "建议你们{suggest}。", "好的，收到，谢谢。",
    "{product}吃了以后有点{symptom}，需要停药吗？",
]
PROBLEMS = ["包装破损了", "药品已经过期", "发错货了", "数量少了两盒", "一直没收到货", "物流太慢", "说明书缺页",
            "想退货", "想换成大包装", "颜色和上次不一样", "药片有裂纹", "发票还没开", "发票抬头开错了",
            "配送员态度不好", "快递显示签收但没收到", "价格比药店贵", "重复扣款了", "会员积分没到账"]
REFUND_PROBLEMS = ["申请退款", "要求全额退款", "退款还没到账", "退货退款一直没处理", "想退款不要了", "退款金额不对"]
STAFF = [
    "您好，已收到您的反馈，我们会在{days}个工作日内处理。", "您好，订单{order}已为您登记，物流单号{express}。",
    "非常抱歉给您带来不便，已为您申请{remedy}。", "{product}的用法：每次{qty}片，每日{times}次，饭后服用；具体请遵医嘱。",
    "已转交质量部核查批号{batch}，有结果会第一时间通知您。", "发票已重新开具，电子发票会发到您的邮箱{email}。",
    "请提供一下购买凭证和药品照片，方便我们核实。", "您好，{name}，您反映的问题已经解决，请确认。",
    "已为您办理退款，金额¥{amount}，预计{days}个工作日原路退回。",
]
NOTES = ["客户情绪激动，注意安抚。", "已联系物流部{name}核实。", "等财务确认退款。", "疑似批次问题，抄送质量部。",
         "客户是{org}的采购，重点客户。", "电话{phone}打不通，改发短信。", "按投诉流程升级给组长。"]
PRAISE = ["服务很专业", "客服小王态度特别好", "处理得很及时", "以后还会选择你们"]
SUGGEST = ["增加夜间客服", "在公众号上能查物流", "说明书字体大一点", "提供电子发票", "开通医保支付"]
SYMPTOMS = ["头晕", "恶心", "皮疹", "胃不舒服", "嗜睡", "心慌"]
REMEDIES = ["补发", "换货", "退款", "优惠券补偿"]
SUBJECTS = ["{product}{problem}", "咨询{product}用法用量", "{org}订货", "{problem}", "发票问题", "投诉：{problem}",
            "表扬客服", "建议：{suggest}", "{product}不良反应咨询", "订单{order}{problem}"]


class Corpus:
    def __init__(self, seed: int = 7, n_products: int = 3000, n_orgs: int = 5000):
        self.rng = r = random.Random(seed)
        self.products = COMMON_PRODUCTS + [
            "".join(r.choice(SYL) for _ in range(r.randint(2, 4))) + r.choice(FORMS) for _ in range(n_products)]
        self.orgs = ["北京协和医院", "四川大学华西医院", "复旦大学附属中山医院"] + [
            r.choice(CITIES) + r.choice(["", "市", "县"]) + r.choice(HOSP_KIND) for _ in range(n_orgs)]

    def name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.randint(1, 2)))

    def phone(self) -> str:
        return f"1{self.rng.choice('3456789')}{self.rng.randint(0, 999999999):09d}"

    def _product(self) -> str:
        r = self.rng
        if r.random() < 0.6:
            return r.choice(COMMON_PRODUCTS)
        return self.products[int(len(self.products) * (r.random() ** 3))]  # a long tail

    def _fill(self, template: str, refund: bool) -> str:
        r = self.rng
        return template.format(
            org=r.choice(self.orgs), product=self._product(),
            problem=r.choice(REFUND_PROBLEMS) if refund and r.random() < 0.7 else r.choice(PROBLEMS),
            order=f"DD{r.randint(2024, 2025)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999999):06d}",
            express=f"SF{r.randint(10**11, 10**12 - 1)}", phone=self.phone(), name=self.name(),
            days=r.randint(1, 7), age=r.randint(2, 12), qty=r.randint(1, 200), times=r.randint(1, 3),
            batch=f"B{r.randint(2301, 2512)}{r.randint(0, 999):03d}", tax=f"91110{r.randint(10**12, 10**13 - 1)}X",
            praise=r.choice(PRAISE), suggest=r.choice(SUGGEST), symptom=r.choice(SYMPTOMS),
            remedy="退款" if refund else r.choice(REMEDIES), amount=f"{r.randint(10, 3000)}.{r.randint(0, 99):02d}",
            email=f"user{r.randint(1, 99999)}@example.com")

    def case(self) -> tuple[str, list[tuple[str, str]]]:
        """(subject, [(kind, body), …])"""
        r = self.rng
        refund = r.random() < 0.22
        subject = self._fill(r.choice(SUBJECTS), refund)[:200]
        messages = []
        for i in range(max(1, min(12, int(r.expovariate(1 / 3.2)) + 1))):
            if i == 0 or (i % 2 == 0 and r.random() < 0.8):
                body = self._fill(r.choice(CUSTOMER), refund)
                if r.random() < 0.5:
                    body += self._fill(r.choice(CUSTOMER), refund)
                messages.append(("customer", body))
            elif r.random() < 0.15:
                messages.append(("note", self._fill(r.choice(NOTES), refund)))
            else:
                body = "".join(self._fill(r.choice(STAFF), refund) for _ in range(r.randint(1, 3)))
                messages.append(("staff", body))
        return subject, messages


# --- set-up -------------------------------------------------------------------------------------------------

def setup_django(args) -> None:
    os.environ["KEFU_DATA_DIR"] = args.data_dir
    os.environ.setdefault("KEFU_SECRET_KEY", "search-probe-not-secret")
    if args.database_url:
        os.environ["KEFU_DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("KEFU_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "kefu.config.settings"
    os.environ.setdefault("KEFU_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def people():
    from kefu.people.models import Department, Team, User

    dept, _ = Department.objects.get_or_create(code="probe", defaults={"name": "客户服务中心(探测)"})
    teams = [Team.objects.get_or_create(name=f"探测组{i:02d}", defaults={"department": dept})[0] for i in range(12)]
    manager, _ = User.objects.get_or_create(username="probe-manager", defaults={
        "role": User.Role.MANAGER, "display_name": "探测经理"})
    agent, created = User.objects.get_or_create(username="probe-agent", defaults={
        "role": User.Role.AGENT, "display_name": "探测客服"})
    if created:
        teams[0].members.add(agent)
    return teams, manager, agent


def _columns(model, values: dict) -> tuple[list[str], list]:
    """Column names and a template row: the defaults of every concrete field, then ``values``."""
    from django.db import connection

    cols, row = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        cols.append(f.column)
        if f.attname in values:
            row.append(values[f.attname])
        else:
            default = f.get_default()
            row.append(f.get_db_prep_save(default, connection) if default is not None else None)
    return cols, row


def _stamp(moment: datetime):
    from django.db import connection

    return moment if connection.vendor == "postgresql" else moment.replace(tzinfo=None).isoformat(" ")


def seed(args, corpus: Corpus, teams) -> dict:
    from django.db import connection, transaction

    from kefu.cases.models import Case, CaseType, Message
    from kefu.customers.models import Customer
    from kefu.search import index as search_index

    have = Case.objects.count()
    n_customers = max(args.customers, 1)
    stats = {"cases_before": have}
    if Customer.objects.count() < n_customers:
        t0 = time.perf_counter()
        ccols, crow = _columns(Customer, {})
        name_i = ccols.index("name")
        start = Customer.objects.count()
        for lo in range(start, n_customers, 5000):
            with transaction.atomic():
                rows = []
                for _ in range(lo, min(lo + 5000, n_customers)):
                    row = list(crow)
                    row[name_i] = corpus.name()
                    rows.append(row)
                with connection.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {Customer._meta.db_table} ({', '.join(ccols)}) "
                        f"VALUES ({', '.join(['%s'] * len(ccols))})", rows)
                ids = list(Customer.objects.order_by("-pk").values_list("pk", "name")[:len(rows)])
                search_index.index_customer_batch(
                    [(pk, [name, f"+86{corpus.phone()}"]) for pk, name in ids])
        stats["customers_seconds"] = round(time.perf_counter() - t0, 1)
    customer_ids = list(Customer.objects.values_list("pk", flat=True)[:n_customers])
    if have >= args.cases:
        return stats
    types = list(CaseType.objects.values_list("pk", flat=True))
    base = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / args.cases
    r = random.Random(have + 11)
    case_cols, case_row = _columns(Case, {"type_id": types[0], "channel": "wechat", "status": "open"})
    ci = {c: case_cols.index(c) for c in ("subject", "type_id", "customer_id", "team_id", "created_at",
                                          "updated_at", "status", "message_count")}
    msg_cols, msg_row = _columns(Message, {"kind": "customer", "channel": "wechat", "body": "", "case_id": 0})
    mi = {c: msg_cols.index(c) for c in ("case_id", "kind", "body", "created_at")}
    t_rows = t_index = 0.0
    t_start = time.perf_counter()
    batch = 5000
    done = have
    while done < args.cases:
        n = min(batch, args.cases - done)
        cases, bodies = [], []
        for k in range(n):
            subject, messages = corpus.case()
            created = base + step * (done + k)
            late = r.random() < 0.1
            updated = created + (timedelta(days=r.random() * 300) if late else timedelta(hours=r.random() * 72))
            updated = min(updated, datetime.now(UTC))
            row = list(case_row)
            row[ci["subject"]] = subject
            row[ci["type_id"]] = r.choice(types)
            row[ci["customer_id"]] = r.choice(customer_ids)
            row[ci["team_id"]] = teams[r.randrange(len(teams))].pk
            row[ci["created_at"]] = _stamp(created)
            row[ci["updated_at"]] = _stamp(updated)
            row[ci["status"]] = r.choice(["new", "open", "pending", "solved", "closed"])
            row[ci["message_count"]] = len(messages)
            cases.append(row)
            bodies.append((subject, messages, created))
        t0 = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {Case._meta.db_table} ({', '.join(case_cols)}) "
                    f"VALUES ({', '.join(['%s'] * len(case_cols))})", cases)
                ids = list(Case.objects.order_by("-pk").values_list("pk", flat=True)[:n])[::-1]
                msgs = []
                for case_id, (_, messages, created) in zip(ids, bodies, strict=True):
                    for j, (kind, body) in enumerate(messages):
                        row = list(msg_row)
                        row[mi["case_id"]] = case_id
                        row[mi["kind"]] = kind
                        row[mi["body"]] = body
                        row[mi["created_at"]] = _stamp(created + timedelta(minutes=j))
                        msgs.append(row)
                cursor.executemany(
                    f"INSERT INTO {Message._meta.db_table} ({', '.join(msg_cols)}) "
                    f"VALUES ({', '.join(['%s'] * len(msg_cols))})", msgs)
            t1 = time.perf_counter()
            search_index.index_batch(
                [(case_id, [subject] + [b for _, b in messages])
                 for case_id, (subject, messages, _) in zip(ids, bodies, strict=True)])
            t2 = time.perf_counter()
        t_rows += t1 - t0
        t_index += t2 - t1
        done += n
        if done % 50000 < batch:
            log(f"seeded {done} cases ({time.perf_counter() - t_start:.0f} s)")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    stats.update(seed_seconds=round(time.perf_counter() - t_start, 1), rows_seconds=round(t_rows, 1),
                 index_batch_seconds=round(t_index, 1),
                 index_batch_us_per_case=round(t_index / max(args.cases - have, 1) * 1e6, 1))
    return stats


# --- measuring ----------------------------------------------------------------------------------------------

def timed(fn, repeat: int) -> tuple[dict, object]:
    result = fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], 2)}, result


def pick_queries(corpus: Corpus) -> list[tuple[str, str]]:
    from kefu.cases.models import Message

    phone = None
    for body in Message.objects.filter(body__contains="电话1").values_list("body", flat=True)[:1]:
        import re

        phone = re.search(r"1\d{10}", body).group()
    rare = corpus.products[len(corpus.products) - 40]  # far in the long tail
    out = [("2-char word, many hits", "退款"), ("2-char word, many hits", "发票"),
           ("4-char phrase, many hits", "申请退款"), ("long phrase", "发票抬头开错了"),
           ("rare product name", rare), ("word in no case", "鲸鱼"), ("phrase in no case", "量子纠缠"),
           ("two words", "退款 发票"), ("ASCII part of an email", "user3055"), ("single character", "药")]
    if phone:
        out.insert(5, ("phone number", phone))
        out.insert(6, ("last 4 digits of a phone", phone[-4:]))
    return out


def measure_queries(args, corpus, manager, agent) -> list[dict]:
    from kefu.search.queries import count_cases, search_cases

    rows = []
    for label, q in pick_queries(corpus):
        row = {"query": q, "what": label}
        for who, user in (("manager", manager), ("agent", agent)):
            newest, (cases, cursor) = timed(lambda u=user, q=q: search_cases(u, q, limit=25), args.repeat)
            count, n = timed(lambda u=user, q=q: count_cases(u, q), args.repeat)
            row[who] = {"hits": n, "newest25": newest, "count": count}
            if cursor:
                page2, _ = timed(lambda u=user, c=cursor, q=q: search_cases(u, q, limit=25, cursor=c), args.repeat)
                row[who]["page2"] = page2
        rows.append(row)
        log(json.dumps(row, ensure_ascii=False))
    return rows


def measure_write_path(args, corpus, teams, agent) -> dict:
    """create_case and add_message through the services on the full index; the index's share measured by
    wrapping the index functions the services call."""
    from kefu.cases import services
    from kefu.cases.models import Case, CaseType, Message
    from kefu.customers.models import Customer
    from kefu.search import index as search_index

    spent = {"index_case_text": 0.0, "index_message": 0.0}
    originals = {name: getattr(search_index, name) for name in spent}

    def wrap(name):
        def inner(*a, **kw):
            t0 = time.perf_counter()
            try:
                return originals[name](*a, **kw)
            finally:
                spent[name] += time.perf_counter() - t0
        return inner

    for name in spent:
        setattr(search_index, name, wrap(name))
    team = teams[0]
    ctype = CaseType.objects.get(code="inquiry")
    customer = Customer.objects.order_by("pk").first()
    n = args.writes
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            subject, messages = corpus.case()
            services.create_case(agent, customer=customer, subject=subject, type=ctype, channel="wechat",
                                 body=messages[0][1], team=team)
        create_s = time.perf_counter() - t0
        r = random.Random(3)
        top = Case.objects.order_by("-pk").values_list("pk", flat=True).first()
        ids = list(Case.objects.filter(pk__in=[r.randint(1, top) for _ in range(n * 3)],
                                       status__in=["new", "open", "pending"]).values_list("pk", flat=True)[:n])
        t0 = time.perf_counter()
        for pk in ids:
            case = Case.objects.get(pk=pk)
            services.add_message(agent, case, kind=Message.Kind.NOTE, body=corpus.case()[1][0][1])
        add_s = time.perf_counter() - t0
        messages = Message.objects.filter(case_id__in=ids).count()
    finally:
        for name, fn in originals.items():
            setattr(search_index, name, fn)
    return {
        "create_case": {"n": n, "per_case_ms": round(create_s / n * 1000, 3),
                        "index_share_ms": round(spent["index_case_text"] / n * 1000, 3)},
        "add_message": {"n": len(ids), "per_message_ms": round(add_s / max(len(ids), 1) * 1000, 3),
                        "index_share_ms": round(spent["index_message"] / max(len(ids), 1) * 1000, 3),
                        "avg_messages_per_case": round(messages / max(len(ids), 1), 2)},
    }


def index_size() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
            sizes = dict(cursor.fetchall())
            fts = sum(v for k, v in sizes.items() if k.startswith("search_case_fts"))
            text = sum(sizes.get(k, 0) for k in ("cases_message", "cases_case"))
            return {"index_mb": round(fts / 2**20), "case_and_message_tables_mb": round(text / 2**20),
                    "database_mb": round(sum(sizes.values()) / 2**20)}
        cursor.execute("SELECT pg_total_relation_size('search_casedoc'), pg_total_relation_size('cases_message')"
                       " + pg_total_relation_size('cases_case'), pg_database_size(current_database())")
        fts, text, total = cursor.fetchone()
        return {"index_mb": round(fts / 2**20), "case_and_message_tables_mb": round(text / 2**20),
                "database_mb": round(total / 2**20)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=0, help="default: cases / 20")
    parser.add_argument("--data-dir", default="", help="reuse this data dir (default: a fresh temp dir)")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=21, help="timed runs per query")
    parser.add_argument("--writes", type=int, default=300, help="cases created and messages added")
    args = parser.parse_args()
    args.customers = args.customers or max(args.cases // 20, 100)
    args.data_dir = args.data_dir or tempfile.mkdtemp(prefix="kefu-search-probe-")
    setup_django(args)
    from django.db import connection

    corpus = Corpus()
    teams, manager, agent = people()
    build = seed(args, corpus, teams)
    from kefu.cases.models import Case

    result = {
        "database": connection.vendor,
        "data_dir": args.data_dir,
        "cases": Case.objects.count(),
        "build": build,
        "size": index_size(),
        "queries": measure_queries(args, corpus, manager, agent),
        "write_path": measure_write_path(args, corpus, teams, agent),
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
