// ivig: a GS1 barcode scanned into a lot row's "Scan" field fills its lot number and expiry
// (issue 16 item 12). The same rules as ivig.core.barcode, which parses on the server what
// the field sends: AI (01) GTIN 14 digits, (17) expiry YYMMDD (day 00: the last day of the
// month; the century within 49 years behind, 50 ahead), (10) lot up to 20 characters ended by
// FNC1 (ASCII 29); a symbology prefix ("]d2", "]C1") skipped; the bracketed form "(01)...".
(() => {
  const GS = "\x1d";
  const FIXED = { "00": 18, "01": 14, "02": 14, 11: 6, 12: 6, 13: 6, 15: 6, 16: 6, 17: 6, 20: 2 };
  const VARIABLE = { 10: 20, 21: 20, 22: 20, 30: 8, 37: 8, 240: 30, 241: 30, 90: 30 };

  function elements(text) {
    const out = {};
    if (text.startsWith("(")) {
      const re = /\((\d{2,4})\)([^(]*)/g;
      let m;
      while ((m = re.exec(text)) !== null) out[m[1]] = m[2].trim();
      return out;
    }
    let i = 0;
    while (i < text.length) {
      if (text[i] === GS) { i += 1; continue; }
      const ai = [text.slice(i, i + 2), text.slice(i, i + 3)].find((a) => a in FIXED || a in VARIABLE);
      if (!ai) return null;
      i += ai.length;
      if (ai in FIXED) {
        out[ai] = text.slice(i, i + FIXED[ai]);
        i += FIXED[ai];
      } else {
        let end = text.indexOf(GS, i);
        if (end < 0) end = text.length;
        out[ai] = text.slice(i, end);
        i = end;
      }
    }
    return out;
  }

  function expiry(yymmdd) {
    if (!/^\d{6}$/.test(yymmdd || "")) return "";
    const yy = Number(yymmdd.slice(0, 2));
    const mm = Number(yymmdd.slice(2, 4));
    let dd = Number(yymmdd.slice(4));
    const now = new Date().getFullYear();
    let century = Math.floor(now / 100) * 100;
    const diff = yy - (now % 100);
    if (diff >= 51) century -= 100;
    else if (diff <= -50) century += 100;
    const year = century + yy;
    if (mm < 1 || mm > 12) return "";
    if (dd === 0) dd = new Date(Date.UTC(year, mm, 0)).getUTCDate();
    const pad = (n) => String(n).padStart(2, "0");
    return `${year}-${pad(mm)}-${pad(dd)}`;
  }

  function fill(input) {
    const raw = input.value.trim().replace(/^\][A-Za-z][0-9]/, "");
    const found = raw ? elements(raw) : null;
    const row = input.closest("fieldset");
    if (!found || !row) return false;
    const lot = row.querySelector("input[name$='-lot_number']");
    const date = row.querySelector("input[name$='-expiry']");
    if (lot && found["10"]) lot.value = found["10"];
    if (date && found["17"]) date.value = expiry(found["17"]);
    return Boolean(found["10"] || found["17"]);
  }

  document.addEventListener("keydown", (event) => {
    const input = event.target.closest && event.target.closest("[data-gs1-scan]");
    if (input && event.key === "Enter") {
      event.preventDefault(); // a scanner ends with Enter: fill the row, do not submit
      if (fill(input)) {
        const count = input.closest("fieldset").querySelector("input[name$='-count']");
        if (count) count.focus();
      }
    }
  });
  document.addEventListener("change", (event) => {
    const input = event.target.closest && event.target.closest("[data-gs1-scan]");
    if (input) fill(input);
  });
})();
