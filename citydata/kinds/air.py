"""Air quality: particulates and gases (Thai AQI pollutants) plus temperature and humidity."""

from citydata.kinds import Kind, Metric

KIND = Kind(
    name="air",
    title_en="Air quality",
    title_th="คุณภาพอากาศ",
    description="Air-quality station: PM, gases, weather",
    offline_after_s=1800.0,  # 30 min: low-cost stations report every 1-5 min
    metrics=(
        Metric("pm25", "µg/m³", 0, 1000, "PM2.5 mass concentration", title_th="ฝุ่น PM2.5"),
        Metric("pm10", "µg/m³", 0, 2000, "PM10 mass concentration", title_th="ฝุ่น PM10"),
        Metric("o3", "ppb", 0, 1000, "Ozone", title_th="โอโซน"),
        Metric("no2", "ppb", 0, 2000, "Nitrogen dioxide", title_th="ไนโตรเจนไดออกไซด์"),
        Metric("so2", "ppb", 0, 2000, "Sulphur dioxide", title_th="ซัลเฟอร์ไดออกไซด์"),
        Metric("co", "ppm", 0, 500, "Carbon monoxide", title_th="คาร์บอนมอนอกไซด์"),
        Metric("temperature", "°C", -40, 85, "Air temperature", title_th="อุณหภูมิ"),
        Metric("humidity", "%", 0, 100, "Relative humidity", title_th="ความชื้นสัมพัทธ์"),
    ),
)
