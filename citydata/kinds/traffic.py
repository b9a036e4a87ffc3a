"""Traffic: per-interval counts, speed and occupancy from a point detector."""

from citydata.kinds import Kind, Metric

KIND = Kind(
    name="traffic",
    description="Traffic detector: one lane or direction per interval",
    offline_after_s=2700.0,  # 45 min: three missed 15-minute intervals
    metrics=(
        Metric("count", "vehicles", 0, 100_000, "Vehicles in the interval"),
        Metric("interval_s", "s", 1, 86_400, "Length of the counting interval"),
        Metric("speed", "km/h", 0, 300, "Mean speed"),
        Metric("occupancy", "%", 0, 100, "Share of time the detection zone is occupied"),
        Metric("motorcycle", "vehicles", 0, 100_000, "Motorcycles in the interval"),
        Metric("car", "vehicles", 0, 100_000, "Cars in the interval"),
        Metric("bus", "vehicles", 0, 100_000, "Buses in the interval"),
        Metric("truck", "vehicles", 0, 100_000, "Trucks in the interval"),
    ),
)
