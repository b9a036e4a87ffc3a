/* The public city page: renders the CityView JSON embedded in the page, then polls
   config.data_url. Plain JS, no build step. Thai first; every string of the page's own is in T. */
"use strict";
(() => {
  const TZ = "Asia/Bangkok";
  const LANG_KEY = "citydata.lang";
  const T = {
    th: {
      skip: "ข้ามไปยังเนื้อหา", toggle: "English", overview: "สรุป",
      alerts: "การแจ้งเตือน", air: "คุณภาพอากาศ", river: "ระดับน้ำ", traffic: "การจราจร",
      map: "แผนที่สถานี", mapNote: "ตำแหน่งของทุกสถานี สีตามค่าปัจจุบัน รายละเอียดอยู่ในรายการด้านบน",
      openData: "ข้อมูลเปิด", apiDocs: "เอกสาร API", json: "ข้อมูลทั้งหมด (JSON)", licence: "สัญญาอนุญาต",
      tagline: "คุณภาพอากาศ ระดับน้ำ การจราจร", dataAsOf: "ข้อมูล ณ",
      noData: "ยังไม่มีข้อมูล", noStations: "ไม่มีสถานี",
      unreachable: "ติดต่อระบบไม่ได้ ข้อมูลที่แสดงอาจไม่เป็นปัจจุบัน",
      lastGood: "ข้อมูลล่าสุดเมื่อ", since: "ตั้งแต่",
      old: "ข้อมูลนี้เป็นของเวลา {t} อาจไม่เป็นปัจจุบัน",
      aqiAsOf: "AQI ณ เวลา {t} น.", pm25Now: "PM2.5 ล่าสุด", strip: "AQI ย้อนหลัง 48 ชั่วโมง",
      stripLabel: "AQI ย้อนหลัง 48 ชั่วโมง: ต่ำสุด {min} สูงสุด {max} ขณะนี้ {now}",
      stripNone: "AQI ย้อนหลัง 48 ชั่วโมง: ไม่มีข้อมูล", h48: "48 ชม.ก่อน", nowShort: "ตอนนี้",
      legend: "ระดับ AQI", offline: "ออฟไลน์", justNow: "อัปเดตเมื่อสักครู่",
      minAgo: "อัปเดตเมื่อ {n} นาทีที่แล้ว", hAgo: "อัปเดตเมื่อ {n} ชั่วโมงที่แล้ว",
      dAgo: "อัปเดตเมื่อ {n} วันที่แล้ว", never: "ยังไม่เคยได้รับข้อมูล",
      download: "ดาวน์โหลดข้อมูล", notJudged: "ประเมินไม่ได้",
      rising: "สูงขึ้น", falling: "ลดลง", steady: "ทรงตัว", riseUnknown: "แนวโน้ม: ไม่ทราบ",
      trend: "แนวโน้ม", cmh: "ซม./ชม.", trendNote: "เทียบกับรอบน้ำขึ้นลงก่อนหน้า",
      lines: "ระดับอ้างอิง", watch: "เฝ้าระวัง", warning: "เตือนภัย", critical: "วิกฤต", bank: "ตลิ่ง",
      chart: "ระดับน้ำ 48 ชั่วโมง: ต่ำสุด {min} สูงสุด {max} ล่าสุด {now}",
      chartNone: "ระดับน้ำ 48 ชั่วโมง: ไม่มีข้อมูล", chartLoading: "กำลังโหลดกราฟ…",
      levelNone: "ไม่มีค่าระดับน้ำ", doLabel: "ออกซิเจนละลายน้ำ (DO)", mgl: "มก./ล.",
      speed: "ความเร็วเฉลี่ย", kmh: "กม./ชม.", freeFlow: "ความเร็วเมื่อถนนโล่ง {v} กม./ชม.",
      noVehicles: "ไม่มีรถผ่าน",
      worstAir: "AQI สูงสุด", worstRiver: "สถานะแม่น้ำ", worstRoad: "สภาพจราจร",
      sev: { critical: "วิกฤต", warning: "เตือน", info: "แจ้งให้ทราบ" },
      tiles: "แผนที่ฐาน", noTiles: "ไม่มีแผนที่ฐาน แสดงเฉพาะตำแหน่งสถานี",
      m: "ม.", datumMsl: "ม.รทก.", datumOther: "ม. (อ้างอิง {d})", noscript: "",
    },
    en: {
      skip: "Skip to content", toggle: "ภาษาไทย", overview: "Summary",
      alerts: "Alerts", air: "Air quality", river: "River level", traffic: "Traffic",
      map: "Station map", mapNote: "Where every station is, coloured by its current value; the details are in the lists above.",
      openData: "Open data", apiDocs: "API documentation", json: "All data (JSON)", licence: "Licence",
      tagline: "Air quality, river level, traffic", dataAsOf: "Data as of",
      noData: "No data yet", noStations: "No stations",
      unreachable: "Cannot reach the platform; the numbers shown may be out of date",
      lastGood: "last data received", since: "since",
      old: "These numbers are from {t} and may be out of date",
      aqiAsOf: "AQI as of {t}", pm25Now: "Latest PM2.5", strip: "AQI over the last 48 hours",
      stripLabel: "AQI over 48 hours: min {min}, max {max}, now {now}",
      stripNone: "AQI over 48 hours: no data", h48: "48 h ago", nowShort: "now",
      legend: "AQI levels", offline: "Offline", justNow: "updated just now",
      minAgo: "updated {n} min ago", hAgo: "updated {n} h ago", dAgo: "updated {n} days ago",
      never: "no data received yet", download: "Download data", notJudged: "not judged",
      rising: "rising", falling: "falling", steady: "steady", riseUnknown: "Trend: unknown",
      trend: "Trend", cmh: "cm/h", trendNote: "compared with one tide ago",
      lines: "Levels", watch: "Watch", warning: "Warning", critical: "Critical", bank: "Bank",
      chart: "River level over 48 hours: min {min}, max {max}, latest {now}",
      chartNone: "River level over 48 hours: no data", chartLoading: "Loading the chart…",
      levelNone: "No level reading", doLabel: "Dissolved oxygen (DO)", mgl: "mg/L",
      speed: "Average speed", kmh: "km/h", freeFlow: "Free-flow speed {v} km/h",
      noVehicles: "No vehicles",
      worstAir: "Highest AQI", worstRiver: "River status", worstRoad: "Roads",
      sev: { critical: "Critical", warning: "Warning", info: "Information" },
      tiles: "Base map", noTiles: "No base map; the stations are shown on a plain background.",
      m: "m", datumMsl: "m MSL", datumOther: "m (datum {d})", noscript: "",
    },
  };
  const WATER = {  // status: [background, text]
    normal: ["#2E7D32", "#FFFFFF"], watch: ["#FFD600", "#000000"], warning: ["#F57C00", "#000000"],
    critical: ["#C62828", "#FFFFFF"], overflow: ["#6D0000", "#FFFFFF"],
  };
  const WATER_RANK = ["normal", "watch", "warning", "critical", "overflow"];
  const LINES = [["watch", "#8A6D00"], ["warning", "#C25E00"], ["critical", "#C62828"], ["bank", "#6D0000"]];
  const GREY = ["#D5D9DD", "#000000"];
  const AXIS_FONT = '12px Sarabun, "Noto Sans Thai", Tahoma, sans-serif';

  const $ = (sel) => document.querySelector(sel);
  const readJSON = (id) => { try { return JSON.parse($(id).textContent); } catch (e) { return null; } };
  const config = Object.assign({ refresh_s: 30, data_url: "/city", docs_url: "/docs" }, readJSON("#city-config") || {});
  const state = { data: readJSON("#city-data"), lang: pickLang(), failed: false, lastOk: null, rendered: false };
  const charts = new Map();  // sensor_id -> uPlot
  let uplotLoading = false, map = null;
  const markers = new Map();

  /* ---------- small helpers ---------- */
  function pickLang() {
    const q = new URLSearchParams(location.search).get("lang");
    if (q === "th" || q === "en") { store(q); return q; }
    try { const s = localStorage.getItem(LANG_KEY); if (s === "th" || s === "en") return s; } catch (e) { /* no storage */ }
    return "th";
  }
  function store(lang) { try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* no storage */ } }
  const t = (key, vars) => {
    let s = T[state.lang][key]; if (s === undefined) s = T.th[key] || key;
    if (vars) for (const k in vars) s = s.replace("{" + k + "}", vars[k]);
    return s;
  };
  const tr = (o, base) => o ? (state.lang === "en" ? (o[base + "_en"] ?? o[base + "_th"]) : (o[base + "_th"] ?? o[base + "_en"])) ?? "" : "";
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const num = (v) => typeof v === "number" && isFinite(v);
  const locale = () => state.lang === "en" ? "en-GB" : "th-TH-u-ca-buddhist";
  const fmtCache = {};
  function fmt(kind, opts) {
    const key = state.lang + kind;
    if (!fmtCache[key]) fmtCache[key] = new Intl.DateTimeFormat(locale(), Object.assign({ timeZone: TZ, hourCycle: "h23" }, opts));
    return fmtCache[key];
  }
  const toDate = (iso) => { const d = iso ? new Date(iso) : null; return d && !isNaN(d) ? d : null; };
  const hhmm = (iso) => { const d = toDate(iso); return d ? fmt("hm", { hour: "2-digit", minute: "2-digit" }).format(d) : "–"; };
  const dateTime = (iso) => {
    const d = toDate(iso); if (!d) return "–";
    return fmt("dt", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }).format(d);
  };
  const number = (v, digits) => num(v)
    ? new Intl.NumberFormat(state.lang === "en" ? "en-GB" : "th-TH", { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v)
    : "–";
  const timeEl = (iso, text) => `<time datetime="${esc(iso)}">${esc(text)}</time>`;
  const swatch = (bg, fg) => `background-color:${esc(bg)};color:${esc(fg)}`;
  const safeColour = (c, fallback) => /^#[0-9a-fA-F]{6}$/.test(c || "") ? c : fallback;

  function ago(iso) {
    const d = toDate(iso); if (!d) return t("never");
    const min = Math.floor((Date.now() - d.getTime()) / 60000);
    if (min < 1) return t("justNow");
    if (min < 60) return t("minAgo", { n: min });
    if (min < 48 * 60) return t("hAgo", { n: Math.floor(min / 60) });
    return t("dAgo", { n: Math.floor(min / 1440) });
  }

  /* ---------- the data, looked up defensively ---------- */
  const D = () => state.data || {};
  const items = (part) => { const p = D()[part]; return p && Array.isArray(p.items) ? p.items : []; };
  const byId = (list) => { const m = new Map(); (Array.isArray(list) ? list : []).forEach((x) => x && m.set(x.sensor_id, x)); return m; };
  const aqiShade = (level) => ((D().legend || {}).aqi || []).find((s) => s.key === String(level));
  const roadShade = (level) => ((D().legend || {}).traffic || []).find((s) => s.key === level);
  const name = (item) => tr(item, "name") || item.sensor_id;

  function airColours(item) {
    const a = item.aqi;
    if (!a || !num(a.aqi)) return GREY;
    const shade = aqiShade(a.level);
    return [safeColour(a.colour_hex || (shade && shade.colour_hex), GREY[0]), safeColour(shade && shade.text_hex, "#000000")];
  }
  function waterColours(item) {
    const st = item.level && item.level.status;
    return st && WATER[st.status] ? WATER[st.status] : GREY;
  }
  function roadColours(item) {
    const c = item.congestion; if (!c) return GREY;
    const shade = roadShade(c.level);
    return [safeColour(c.colour_hex || (shade && shade.colour_hex), GREY[0]), safeColour(shade && shade.text_hex, "#000000")];
  }
  function datumUnit(datum) {
    if (!datum || String(datum).trim().toUpperCase() === "MSL") return t("datumMsl");
    return t("datumOther", { d: datum });
  }

  /* ---------- card parts (HTML strings; only changed parts touch the DOM) ---------- */
  function foot(item, seen) {
    const id = encodeURIComponent(item.sensor_id);
    const when = seen ? seen.time : null;
    const abs = when ? dateTime(when) : "";
    return `<p class="meta"><span class="updated" data-time="${esc(when || "")}" title="${esc(abs)}">${esc(ago(when))}</span>` +
      (seen && seen.offline ? ` <span class="offline-tag">${esc(t("offline"))}</span>` : "") + `</p>` +
      `<p class="export">${esc(t("download"))}: ` +
      `<a class="export-csv" href="/sensors/${id}/export?format=csv" aria-label="CSV ${esc(name(item))}">CSV</a> · ` +
      `<a class="export-parquet" href="/sensors/${id}/export?format=parquet" aria-label="Parquet ${esc(name(item))}">Parquet</a></p>`;
  }

  function airBody(item, seen, strip) {
    const a = item.aqi && num(item.aqi.aqi) ? item.aqi : null;
    const [bg, fg] = airColours(item);
    const shade = a ? aqiShade(a.level) : null;
    const level = a ? (tr(a, "name") || tr(shade, "name")) : t("notJudged");
    const advice = a ? (tr(a, "advice") || tr(shade, "advice")) : (tr(item, "reason") || "");
    const pm = seen && seen.values && num(seen.values.pm25) ? seen.values.pm25 : null;
    return `<h3>${esc(name(item))}</h3>` +
      `<div class="aqi-row"><div class="aqi-box"><span class="aqi-label">AQI</span>` +
      `<span class="aqi" data-aqi="${a ? a.aqi : ""}" data-level="${a && a.level != null ? esc(a.level) : ""}" style="${swatch(bg, fg)}">${a ? esc(a.aqi) : "–"}</span></div>` +
      `<div class="aqi-text"><p class="level-name">${esc(level)}</p>` +
      `<p class="small">${esc(t("aqiAsOf", { t: hhmm(item.as_of) }))}</p>` +
      `<p class="small pm25">${esc(t("pm25Now"))} <span class="num">${pm === null ? "–" : esc(number(pm, 1))}</span> µg/m³</p></div></div>` +
      (advice ? `<p class="advice">${esc(advice)}</p>` : "") + stripHTML(strip);
  }

  function stripHTML(strip) {
    const aqis = strip && Array.isArray(strip.aqi) ? strip.aqi : [];
    const levels = strip && Array.isArray(strip.level) ? strip.level : [];
    const known = aqis.filter(num);
    const label = known.length
      ? t("stripLabel", { min: Math.min(...known), max: Math.max(...known), now: num(aqis[aqis.length - 1]) ? aqis[aqis.length - 1] : "–" })
      : t("stripNone");
    const start = strip ? toDate(strip.start) : null;
    const cells = [];
    for (let i = 0; i < 48; i++) {
      const k = aqis.length - 48 + i;
      const v = k >= 0 ? aqis[k] : null;
      const shade = num(v) ? aqiShade(levels[k]) : null;
      const tip = start && k >= 0 ? `${hhmm(new Date(start.getTime() + k * 3600e3).toISOString())} ${num(v) ? v : "–"}` : "";
      cells.push(`<span class="cell${shade ? "" : " none"}"${shade ? ` style="background-color:${esc(safeColour(shade.colour_hex, GREY[0]))}"` : ""} title="${esc(tip)}"></span>`);
    }
    return `<div class="strip-wrap"><p class="small strip-title" aria-hidden="true">${esc(t("strip"))}</p>` +
      `<div class="strip" role="img" aria-label="${esc(label)}">${cells.join("")}</div>` +
      `<p class="strip-axis small" aria-hidden="true"><span>${esc(t("h48"))}</span><span>${esc(t("nowShort"))}</span></p></div>`;
  }

  function riseHTML(level) {
    const r = level && level.rise;
    if (!r || !num(r.rate_m_per_h)) return `<p class="trend">${esc(t("riseUnknown"))}</p>`;
    const cm = r.rate_m_per_h * 100;
    const shown = Math.abs(cm) < 0.05 ? 0 : cm;
    const [arrow, word] = Math.abs(cm) < 0.5 ? ["→", t("steady")] : cm > 0 ? ["↑", t("rising")] : ["↓", t("falling")];
    return `<p class="trend"><span class="arrow" aria-hidden="true">${arrow}</span> ${esc(t("trend"))}: <strong>${esc(word)}</strong> ` +
      `${shown > 0 ? "+" : ""}${esc(number(shown, 1))} ${esc(t("cmh"))} <span class="small">(${esc(t("trendNote"))})</span></p>`;
  }

  function waterBody(item) {
    const lv = item.level;
    const st = lv && lv.status;
    const [bg, fg] = waterColours(item);
    const unit = datumUnit(item.datum);
    const thr = lv && lv.thresholds && typeof lv.thresholds === "object" ? lv.thresholds : {};
    const lines = LINES.filter(([k]) => num(thr[k]))
      .map(([k]) => `<li><span class="line-key line-${k}" aria-hidden="true"></span>${esc(t(k))} ${esc(number(thr[k], 2))}</li>`).join("");
    const d = item.do;
    const doText = !d || !num(d.value_mg_l) ? "" : `<p class="small do">${d.status && tr(d.status, "message")
      ? esc(tr(d.status, "message")) : `${esc(t("doLabel"))} ${esc(number(d.value_mg_l, 2))} ${esc(t("mgl"))}`}</p>`;
    return `<h3>${esc(name(item))}</h3>` +
      `<div class="level-row"><p class="level" data-level-m="${lv && num(lv.value_m) ? lv.value_m : ""}">` +
      `<span class="num">${lv && num(lv.value_m) ? esc(number(lv.value_m, 2)) : "–"}</span> <span class="unit">${esc(unit)}</span></p>` +
      `<p class="status" data-status="${esc(st ? st.status : "")}" style="${swatch(bg, fg)}">${esc(st ? tr(st, "status") : t("notJudged"))}</p></div>` +
      (st ? `<p class="message">${esc(tr(st, "message"))}</p>` : (lv ? "" : `<p class="message">${esc(t("levelNone"))}</p>`)) +
      (lv ? riseHTML(lv) : "") +
      (lines ? `<ul class="lines" aria-label="${esc(t("lines"))} (${esc(unit)})">${lines}</ul>` : "") + doText;
  }

  function roadBody(item) {
    const c = item.congestion;
    const [bg, fg] = roadColours(item);
    const shade = c ? roadShade(c.level) : null;
    const values = item.values || {};
    const empty = !c && values.count === 0;  // no vehicles: the speed says nothing
    const speed = c && num(c.speed_kmh) ? c.speed_kmh : (!empty && num(values.speed) ? values.speed : null);
    const ff = c && num(c.free_flow_kmh) ? c.free_flow_kmh : item.free_flow_kmh;
    const label = c ? (tr(c, "name") || tr(shade, "name")) : t(empty ? "noVehicles" : "notJudged");
    return `<h3>${esc(name(item))}</h3>` +
      `<p class="congestion" data-level="${esc(c ? c.level : "")}" style="${swatch(bg, fg)}">${esc(label)}</p>` +
      `<p class="speed">${esc(t("speed"))} <span class="num">${esc(number(speed, 0))}</span> ${esc(t("kmh"))}</p>` +
      (num(ff) ? `<p class="small">${esc(t("freeFlow", { v: number(ff, 0) }))}</p>` : "");
  }

  function chartCaption(series, unit) {
    const vals = series && Array.isArray(series.values) ? series.values.filter(num) : [];
    if (!vals.length) return t("chartNone");
    const f = (v) => `${number(v, 2)} ${unit}`;
    return t("chart", { min: f(Math.min(...vals)), max: f(Math.max(...vals)), now: f(vals[vals.length - 1]) });
  }

  /* ---------- DOM updates that keep focus ---------- */
  function setHTML(el, html) {
    if (el.__html === html) return;
    const active = document.activeElement;
    const FOCUSABLE = "a[href], button, [tabindex]";
    const at = active && active !== el && el.contains(active) ? [...el.querySelectorAll(FOCUSABLE)].indexOf(active) : -1;
    el.innerHTML = html;
    el.__html = html;
    if (at >= 0) { const again = el.querySelectorAll(FOCUSABLE)[at]; if (again) again.focus({ preventScroll: true }); }
  }

  function syncCards(list, stations, kind, render) {
    const seen = byId(D().seen);
    const keep = new Set();
    stations.forEach((item, i) => {
      if (!item || !item.sensor_id) return;
      keep.add(item.sensor_id);
      let card = list.querySelector(`[data-station="${CSS.escape(item.sensor_id)}"]`);
      if (!card) {
        card = document.createElement("article");
        card.className = "card";
        card.dataset.station = item.sensor_id;
        card.dataset.kind = kind;
        card.innerHTML = `<div class="body"></div>` + (kind === "water" ? `<figure class="chart"><div class="chart-box" role="img"></div><figcaption class="small"></figcaption></figure>` : "") + `<div class="card-foot"></div>`;
      }
      if (list.children[i] !== card) list.insertBefore(card, list.children[i] || null);
      const s = seen.get(item.sensor_id);
      card.classList.toggle("offline", !!(s && s.offline));
      let body;
      try { body = render(item, s); } catch (e) { body = `<h3>${esc(name(item))}</h3><p>${esc(t("notJudged"))}</p>`; }
      setHTML(card.querySelector(".body"), body);
      setHTML(card.querySelector(".card-foot"), foot(item, s));
    });
    [...list.children].forEach((c) => {
      if (keep.has(c.dataset.station)) return;
      const chart = charts.get(c.dataset.station);
      if (chart) { chart.plot.destroy(); charts.delete(c.dataset.station); }
      c.remove();
    });
    if (!keep.size) list.innerHTML = `<p class="note">${esc(state.data ? t("noStations") : t("noData"))}</p>`;
  }

  /* ---------- sections ---------- */
  function renderChrome() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    const other = state.lang === "th" ? "en" : "th";
    const btn = $("#lang-toggle");
    btn.textContent = t("toggle");
    btn.lang = other;
    const city = state.lang === "en" ? config.city_en : config.city_th;
    $("#city-name").textContent = city || "";
    const sub = $("#city-sub");
    sub.textContent = (state.lang === "en" ? config.city_th : config.city_en) || "";
    sub.lang = other;
    document.title = `${city} · ${t("tagline")}`;
    $("#overview").setAttribute("aria-label", t("overview"));
    const lic = $("#licence");
    const licence = config.licence_name || "–";
    if (config.licence_url) { lic.href = config.licence_url; lic.rel = "license"; } else { lic.removeAttribute("href"); }
    lic.textContent = licence;
    const docs = $("#api-docs"); docs.href = config.docs_url || "/docs";
    $("#json-link").href = config.data_url || "/city";
    const attr = config.tiles_url ? `${t("tiles")}: ${config.tiles_attribution || ""}` : t("noTiles");
    $("#map-attribution").textContent = attr;
    $("#foot-notes").textContent = (config.tiles_url && config.tiles_attribution ? `${t("tiles")}: ${config.tiles_attribution} · ` : "") + "Leaflet · uPlot · Sarabun (OFL)";
    $("#page-time").textContent = state.data ? `${t("dataAsOf")} ${dateTime(state.data.time)}` : t("noData");
  }

  function renderLegend() {
    const shades = (D().legend || {}).aqi || [];
    setHTML($("#aqi-legend"), shades.map((s) =>
      `<li><span class="chip" style="${swatch(safeColour(s.colour_hex, GREY[0]), safeColour(s.text_hex, "#000000"))}">${esc(s.range || s.key)}</span> ${esc(tr(s, "name"))}</li>`).join(""));
    $("#aqi-legend").setAttribute("aria-label", t("legend"));
  }

  function renderOverview() {
    const tiles = [];
    const air = items("air").filter((i) => i && i.aqi && num(i.aqi.aqi)).sort((a, b) => b.aqi.aqi - a.aqi.aqi)[0];
    if (air) {
      const [bg, fg] = airColours(air);
      tiles.push(["air", t("worstAir"), `${air.aqi.aqi} · ${tr(air.aqi, "name")}`, name(air), bg, fg]);
    }
    const water = items("water").filter((i) => i && i.level && i.level.status)
      .sort((a, b) => WATER_RANK.indexOf(b.level.status.status) - WATER_RANK.indexOf(a.level.status.status))[0];
    if (water) {
      const [bg, fg] = waterColours(water);
      tiles.push(["river", t("worstRiver"), `${tr(water.level.status, "status")} · ${number(water.level.value_m, 2)} ${datumUnit(water.datum)}`, name(water), bg, fg]);
    }
    const road = items("traffic").filter((i) => i && i.congestion).sort((a, b) => (b.congestion.severity || 0) - (a.congestion.severity || 0))[0];
    if (road) {
      const [bg, fg] = roadColours(road);
      tiles.push(["traffic", t("worstRoad"), tr(road.congestion, "name"), name(road), bg, fg]);
    }
    setHTML($("#overview"), tiles.length ? `<ul>${tiles.map(([id, head, value, where, bg, fg]) =>
      `<li><a href="#${id}"><span class="ov-head">${esc(head)}</span><span class="ov-value" style="${swatch(bg, fg)}">${esc(value)}</span><span class="ov-where">${esc(where)}</span></a></li>`).join("")}</ul>` : "");
  }

  function renderAlerts() {
    const alerts = Array.isArray(D().alerts) ? D().alerts.filter(Boolean) : [];
    const section = $("#alerts");
    section.hidden = !alerts.length;
    const stations = byId([...items("air"), ...items("water"), ...items("traffic")]);
    setHTML($("#alert-list"), alerts.map((a) => {
      const sev = T[state.lang].sev[a.severity] ? a.severity : "info";
      const title = tr(a, "title") || a.rule;
      const station = stations.get(a.subject);
      const text = tr(a, "text") || tr(a, "name") || (station ? name(station) : a.subject);
      return `<li class="alert sev-${esc(sev)}" data-rule="${esc(a.rule)}" data-subject="${esc(a.subject)}" data-severity="${esc(a.severity || "")}">` +
        `<p><span class="sev">${esc(T[state.lang].sev[sev])}</span> <strong>${esc(title)}</strong></p>` +
        `<p>${esc(text)}</p><p class="small">${esc(t("since"))} ${timeEl(a.firing_since || a.since, dateTime(a.firing_since || a.since))}</p></li>`;
    }).join(""));
  }

  function renderStations() {
    const strips = byId(D().aqi_48h);
    const series = byId(D().level_48h);
    syncCards($("#air-cards"), items("air"), "air", (item, s) => airBody(item, s, strips.get(item.sensor_id)));
    syncCards($("#water-cards"), items("water"), "water", (item) => waterBody(item));
    syncCards($("#traffic-cards"), items("traffic"), "traffic", (item) => roadBody(item));
    items("water").forEach((item) => {
      if (!item || !item.sensor_id) return;
      const card = $(`#water-cards [data-station="${CSS.escape(item.sensor_id)}"]`);
      if (!card) return;
      const s = series.get(item.sensor_id);
      const caption = chartCaption(s, datumUnit(item.datum));
      const box = card.querySelector(".chart-box");
      box.setAttribute("aria-label", caption);
      card.querySelector("figcaption").textContent = caption;
      if (!window.uPlot) { if (!box.firstChild) box.innerHTML = `<span class="small chart-wait" aria-hidden="true">${esc(t("chartLoading"))}</span>`; return; }
      try { drawChart(box, item, s); } catch (e) { /* the caption stays as the text alternative */ }
    });
  }

  /* ---------- the river chart (uPlot, loaded when the river section comes near) ---------- */
  function loadUplot() {
    if (uplotLoading || window.uPlot) return;
    uplotLoading = true;
    const me = $("#city-js");
    const css = document.createElement("link");
    css.rel = "stylesheet"; css.href = me.dataset.uplotCss;
    document.head.appendChild(css);
    const js = document.createElement("script");
    js.src = me.dataset.uplotJs;
    js.onload = () => { charts.clear(); renderStations(); };
    js.onerror = () => { uplotLoading = false; };
    document.head.appendChild(js);
  }

  function chartData(s) {
    if (!s || !Array.isArray(s.values)) return [[], []];
    const start = toDate(s.start), every = num(s.every_s) && s.every_s > 0 ? s.every_s : 900;
    if (!start) return [[], []];
    const t0 = start.getTime() / 1000;
    return [s.values.map((_, i) => t0 + i * every), s.values.map((v) => (num(v) ? v : null))];
  }

  function drawChart(box, item, s) {
    const data = chartData(s);
    const thr = (item.level && item.level.thresholds) || {};
    const lines = LINES.filter(([k]) => num(thr[k])).map(([k, colour]) => [k, colour, thr[k]]);
    const key = JSON.stringify([state.lang, s && s.start, s && s.values, lines]);
    const old = charts.get(item.sensor_id);
    if (old && old.box === box && old.key === key) return;
    if (old && old.box === box) { old.plot.destroy(); }
    box.innerHTML = "";
    const vals = data[1].filter(num).concat(lines.map((l) => l[2]));
    const lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
    const pad = Math.max((hi - lo) * 0.08, 0.05);
    const width = Math.max(box.clientWidth || 300, 200);
    const plot = new uPlot({
      width, height: 180, legend: { show: false }, cursor: { show: true, x: true, y: false, points: { show: false } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
      scales: { x: { time: true }, y: { range: () => [lo - pad, hi + pad] } },
      axes: [
        { stroke: "#3d4852", font: AXIS_FONT, grid: { stroke: "#e3e7ea" }, ticks: { stroke: "#c9cfd4" }, space: 55,
          values: (u, splits) => splits.map((ts) => {
            const d = new Date(ts * 1000);
            const h = fmt("hm", { hour: "2-digit", minute: "2-digit" }).format(d);
            return h === "00:00" ? fmt("dm", { day: "numeric", month: "short" }).format(d) : h;
          }) },
        { stroke: "#3d4852", font: AXIS_FONT, grid: { stroke: "#e3e7ea" }, ticks: { stroke: "#c9cfd4" }, size: 44,
          values: (u, splits, axis, space, incr) => splits.map((v) => number(v, incr < 0.1 ? 2 : 1)) },
      ],
      series: [{}, { label: t("river"), stroke: "#0b4f6c", width: 2, fill: "rgba(11,79,108,0.08)", spanGaps: false }],
      hooks: { draw: [(u) => drawLines(u, lines)] },
    }, data, box);
    charts.set(item.sensor_id, { plot, box, key });
  }

  /* the threshold lines, dashed, then their labels on a light ground: alternately right and
     left, each pushed up clear of the one below it on its side */
  function drawLines(u, lines) {
    const ctx = u.ctx, { left, width: w } = u.bbox, dpr = devicePixelRatio || 1;
    const ys = lines.map(([, , v]) => Math.round(u.valToPos(v, "y", true)));
    ctx.save();
    ctx.lineWidth = 1.5 * dpr;
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    lines.forEach(([, colour], i) => {
      ctx.strokeStyle = colour;
      ctx.beginPath(); ctx.moveTo(left, ys[i]); ctx.lineTo(left + w, ys[i]); ctx.stroke();
    });
    ctx.font = `${12 * dpr}px Sarabun, "Noto Sans Thai", Tahoma, sans-serif`;
    ctx.textBaseline = "bottom"; ctx.textAlign = "left";
    const lastY = [Infinity, Infinity];
    lines.forEach(([k, colour, v], i) => {
      const side = i % 2, ly = Math.min(ys[i] - 2 * dpr, lastY[side] - 14 * dpr);
      lastY[side] = ly;
      const text = `${t(k)} ${number(v, 2)}`, tw = ctx.measureText(text).width;
      const x = side ? left + 4 * dpr : left + w - 4 * dpr - tw;
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(x - 2 * dpr, ly - 13 * dpr, tw + 4 * dpr, 13 * dpr);
      ctx.fillStyle = colour;
      ctx.fillText(text, x, ly);
    });
    ctx.restore();
  }

  function resizeCharts() {
    charts.forEach(({ plot, box }) => { const w = box.clientWidth; if (w && Math.abs(w - plot.width) > 2) plot.setSize({ width: Math.max(w, 200), height: 180 }); });
  }

  /* ---------- the map (Leaflet; decoration, the lists are the accessible equivalent) ---------- */
  function stationColour(kind, item, s) {
    if (s && s.offline) return "#9AA3AB";
    return (kind === "air" ? airColours(item) : kind === "water" ? waterColours(item) : roadColours(item))[0];
  }
  function tipText(kind, item) {
    if (kind === "air") return item.aqi && num(item.aqi.aqi) ? `AQI ${item.aqi.aqi} · ${tr(item.aqi, "name")}` : "AQI –";
    if (kind === "water") {
      const lv = item.level;
      return lv && num(lv.value_m) ? `${number(lv.value_m, 2)} ${datumUnit(item.datum)}${lv.status ? " · " + tr(lv.status, "status") : ""}` : t("levelNone");
    }
    const c = item.congestion;
    return c ? `${tr(c, "name")} · ${number(c.speed_kmh, 0)} ${t("kmh")}` : t(item.values && item.values.count === 0 ? "noVehicles" : "notJudged");
  }

  function renderMap() {
    if (!window.L) return;
    const located = [];
    [["air", items("air")], ["water", items("water")], ["traffic", items("traffic")]].forEach(([kind, list]) => list.forEach((item) => {
      const loc = item && item.location;
      if (loc && num(loc.latitude) && num(loc.longitude)) located.push([kind, item, [loc.latitude, loc.longitude]]);
    }));
    if (!map) {
      if (!located.length) return;  // nothing to place yet: no map, no tiles fetched
      const el = $("#map");
      map = L.map(el, { keyboard: false, scrollWheelZoom: false, attributionControl: false, dragging: !L.Browser.mobile, zoomSnap: 0.5 });
      map.fitBounds(located.map((x) => x[2]), { padding: [24, 24], maxZoom: 15 });  // before the tiles: none of a wrong view
      if (config.tiles_url) L.tileLayer(config.tiles_url, { maxZoom: 19 }).addTo(map);
      el.querySelectorAll("a, [tabindex]").forEach((a) => a.setAttribute("tabindex", "-1"));
    }
    const seen = byId(D().seen);
    const keep = new Set();
    located.forEach(([kind, item, ll]) => {
      const id = item.sensor_id, s = seen.get(id);
      keep.add(id);
      const style = { radius: kind === "water" ? 11 : kind === "air" ? 9 : 7, color: "#1b1f23", weight: 2, fillOpacity: 0.9, fillColor: stationColour(kind, item, s) };
      const tip = `${esc(name(item))}<br>${esc(tipText(kind, item))}${s && s.offline ? " · " + esc(t("offline")) : ""}`;
      let m = markers.get(id);
      if (!m) { m = L.circleMarker(ll, style).bindTooltip(tip).addTo(map); markers.set(id, m); }
      else { m.setLatLng(ll); m.setStyle(style); m.setTooltipContent(tip); }
    });
    markers.forEach((m, id) => { if (!keep.has(id)) { m.remove(); markers.delete(id); } });
  }

  /* ---------- availability ---------- */
  function renderAvailability() {
    const data = state.data;
    const banner = $("#availability");
    let st = "current", html = "";
    const oldAfter = (3 * (Number(config.refresh_s) || 30) + 60) * 1000;
    const dataTime = data && toDate(data.time);
    if (state.failed || !data) {
      st = "unreachable";
      html = `<strong>${esc(t("unreachable"))}</strong>` + (dataTime ? ` · ${esc(t("lastGood"))} ${timeEl(data.time, dateTime(data.time))}` : ` · ${esc(t("noData"))}`);
    } else if (data.availability && data.availability.current === false) {
      st = "not-current";
      const a = data.availability;
      html = `<strong>${esc(tr(a, "reason") || t("unreachable"))}</strong>` + (a.since ? ` · ${esc(t("since"))} ${timeEl(a.since, dateTime(a.since))}` : "");
    } else if (!dataTime || Date.now() - dataTime.getTime() > oldAfter) {
      st = "old";
      html = `<strong>${esc(t("old", { t: dataTime ? dateTime(data.time) : "–" }))}</strong>`;
    }
    banner.dataset.state = st;
    setHTML(banner, html ? `<div class="wrap banner">${html}</div>` : "");
    document.body.classList.toggle("data-stale", st !== "current");
  }

  /* ---------- rendering and the clock ---------- */
  function render() {
    renderChrome();
    renderAvailability();
    renderOverview();
    renderAlerts();
    renderLegend();
    renderStations();
    try { renderMap(); } catch (e) { /* the map is decoration */ }
    document.body.dataset.version = (state.data && state.data.time) || "";
    if (!state.rendered) {
      state.rendered = true;
      document.body.dataset.ready = "true";
      try { performance.mark("city-rendered"); } catch (e) { /* old browser */ }
    }
  }

  function tick() {
    document.querySelectorAll(".updated").forEach((el) => { el.textContent = ago(el.dataset.time || null); });
    renderAvailability();
  }

  async function poll() {
    const ctrl = "AbortController" in window ? new AbortController() : null;
    const timer = ctrl ? setTimeout(() => ctrl.abort(), 20000) : 0;
    try {
      const res = await fetch(config.data_url || "/city", { cache: "no-cache", headers: { Accept: "application/json" }, signal: ctrl && ctrl.signal });
      if (res.status !== 200) throw new Error("HTTP " + res.status);
      const data = await res.json();
      if (!data || typeof data !== "object" || !data.time) throw new Error("not a city view");
      const changed = !state.data || data.time !== state.data.time || state.failed;
      state.data = data; state.failed = false; state.lastOk = Date.now();
      if (changed) render(); else renderAvailability();
    } catch (e) {
      if (!state.failed) { state.failed = true; renderAvailability(); }
    } finally {
      clearTimeout(timer);
      setTimeout(poll, Math.max(5, Number(config.refresh_s) || 30) * 1000);
    }
  }

  function start() {
    $("#lang-toggle").addEventListener("click", () => {
      state.lang = state.lang === "th" ? "en" : "th";
      store(state.lang);
      const url = new URL(location.href);
      if (url.searchParams.has("lang")) { url.searchParams.set("lang", state.lang); history.replaceState(null, "", url); }
      render();
    });
    if (!state.data) state.failed = true;
    render();
    if (state.data) state.lastOk = Date.now();
    const river = $("#water-cards");
    if ("IntersectionObserver" in window) {
      const io = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) { io.disconnect(); loadUplot(); }
      }, { rootMargin: "600px 0px" });
      io.observe(river);
    } else loadUplot();
    let resizeTimer = 0;
    addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(resizeCharts, 150); });
    setInterval(tick, 30000);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
    setTimeout(poll, Math.max(5, Number(config.refresh_s) || 30) * 1000);
  }

  start();
})();
