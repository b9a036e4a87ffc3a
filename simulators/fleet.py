"""The default simulated fleet: air, water and traffic sensors around Lam Phaya, Nakhon Pathom."""

from __future__ import annotations

from simulators.sensor import SimSensor

# Lam Phaya municipality lies on the Tha Chin river around 14.0 N, 100.2 E (Bang Len district).
LAM_PHAYA: tuple[SimSensor, ...] = (
    SimSensor(
        "lp-air-01",
        "air",
        "Lam Phaya Municipal Office",
        "สำนักงานเทศบาลตำบลลำพญา",
        14.0005,
        100.1460,
    ),
    SimSensor("lp-air-02", "air", "Lam Phaya Floating Market", "ตลาดน้ำลำพญา", 14.0028, 100.1431),
    SimSensor("lp-air-03", "air", "Wat Lam Phaya", "วัดลำพญา", 14.0040, 100.1445),
    SimSensor("lp-air-04", "air", "Lam Phaya School", "โรงเรียนลำพญา", 13.9968, 100.1502),
    SimSensor(
        "lp-air-05",
        "air",
        "Health Promoting Hospital",
        "โรงพยาบาลส่งเสริมสุขภาพตำบลลำพญา",
        13.9941,
        100.1478,
    ),
    SimSensor("lp-air-06", "air", "Rice fields north", "ทุ่งนาด้านเหนือ", 14.0150, 100.1520),
    SimSensor("lp-air-07", "air", "Route 3233 junction", "แยกทางหลวง 3233", 13.9902, 100.1561),
    SimSensor("lp-air-08", "air", "Market road", "ถนนตลาด", 13.9985, 100.1410),
    SimSensor("lp-air-09", "air", "Community east", "ชุมชนฝั่งตะวันออก", 14.0060, 100.1605),
    SimSensor("lp-air-10", "air", "Community south", "ชุมชนฝั่งใต้", 13.9860, 100.1455),
    SimSensor(
        "lp-water-01",
        "water",
        "Tha Chin river at Lam Phaya pier",
        "แม่น้ำท่าจีน ท่าน้ำลำพญา",
        14.0021,
        100.1418,
    ),
    SimSensor(
        "lp-water-02", "water", "Tha Chin river downstream", "แม่น้ำท่าจีน ท้ายน้ำ", 13.9890, 100.1395
    ),
    SimSensor("lp-water-03", "water", "Khlong Lam Phaya", "คลองลำพญา", 14.0080, 100.1495),
    SimSensor("lp-water-04", "water", "Khlong Bang Len", "คลองบางเลน", 13.9950, 100.1550),
    SimSensor(
        "lp-traffic-01", "traffic", "Route 3233 northbound", "ทางหลวง 3233 ขาเข้า", 13.9905, 100.1565
    ),
    SimSensor(
        "lp-traffic-02", "traffic", "Route 3233 southbound", "ทางหลวง 3233 ขาออก", 13.9900, 100.1558
    ),
    SimSensor(
        "lp-traffic-03", "traffic", "Floating market road", "ถนนเข้าตลาดน้ำ", 14.0015, 100.1440
    ),
    SimSensor(
        "lp-traffic-04", "traffic", "Bridge over Tha Chin", "สะพานข้ามแม่น้ำท่าจีน", 14.0035, 100.1405
    ),
    SimSensor("lp-traffic-05", "traffic", "School road", "ถนนหน้าโรงเรียน", 13.9970, 100.1498),
    SimSensor(
        "lp-traffic-06",
        "traffic",
        "Municipal office road",
        "ถนนหน้าสำนักงานเทศบาล",
        14.0000,
        100.1470,
    ),
)
