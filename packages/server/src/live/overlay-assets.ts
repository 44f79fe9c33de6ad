/**
 * The overlay's stylesheet: a transparent 1920×1080 canvas (an OBS browser source of that size),
 * one alert at the top centre with the gift's art moving as its `animation` hint says, and the
 * goal bar along the bottom. Text is white with a dark outline, readable over any stream.
 *
 * @remarks Served from our origin (`style-src 'self'`): the page has no inline style, and the
 * script sets only the goal bar's width, through the CSSOM (which CSP allows).
 */
export const OVERLAY_CSS = `html, body { margin: 0; padding: 0; background: transparent; }
body.overlay {
  position: relative; width: 1920px; height: 1080px; overflow: hidden;
  font: 700 48px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #fff;
}
body.preview {
  background: repeating-conic-gradient(#3b3b46 0% 25%, #2a2a33 0% 50%) 0 0 / 48px 48px;
}
.preview-note {
  position: absolute; top: 0; left: 0; right: 0; margin: 0; padding: 12px 24px;
  font-size: 24px; font-weight: 500; background: #111; color: #fff;
}
.preview-note a { color: #b9a8ff; }
[hidden] { display: none !important; }
.alert { position: absolute; top: 110px; left: 360px; width: 1200px; text-align: center; }
.art {
  display: block; width: 320px; height: 320px; margin: 0 auto 24px;
  filter: drop-shadow(0 14px 24px rgba(0, 0, 0, .5));
}
.line, .message, .test-badge, .goal-line {
  margin: 0; paint-order: stroke fill; -webkit-text-stroke: 6px rgba(0, 0, 0, .85);
  text-shadow: 0 4px 14px rgba(0, 0, 0, .7);
}
.fan { color: #ffd84d; }
.gift { color: #fff; }
.combo { display: inline-block; margin-left: .25em; color: #7ff3ff; font-size: 1.25em; }
.combo:empty { display: none; }
.combo.bump { animation: bump .4s cubic-bezier(.3, 1.8, .5, 1); }
.message { margin: 18px auto 0; max-width: 1100px; font-size: 40px; font-weight: 600; overflow-wrap: anywhere; }
.test-badge { display: none; margin-top: 14px; font-size: 26px; color: #ffb4d0; letter-spacing: .08em; text-transform: uppercase; }
.alert.test .test-badge { display: block; }
.alert.in { animation: alert-in .45s cubic-bezier(.2, .9, .3, 1.2) both; }
.alert.out { animation: alert-out .4s ease-in both; }
.alert[data-animation="float"] .art { animation: float 2.4s ease-in-out infinite; }
.alert[data-animation="burst"] .art { animation: burst .9s cubic-bezier(.2, 1.7, .4, 1) both, glow 1.6s ease-in-out .9s infinite; }
.alert[data-animation="spin"] .art { animation: spin 2.2s cubic-bezier(.4, 0, .2, 1) infinite; }
.alert[data-animation="pulse"] .art { animation: pulse 1s ease-in-out infinite; }
.alert[data-animation="rise"] .art { animation: rise 1.1s cubic-bezier(.2, .9, .3, 1) both, float 2.4s ease-in-out 1.1s infinite; }
@keyframes alert-in { from { opacity: 0; transform: translateY(-40px) scale(.9); } to { opacity: 1; transform: none; } }
@keyframes alert-out { from { opacity: 1; } to { opacity: 0; transform: translateY(-30px); } }
@keyframes float { 0%, 100% { transform: translateY(0); } 50% { transform: translateY(-26px); } }
@keyframes burst { 0% { transform: scale(0) rotate(-20deg); opacity: 0; } 60% { transform: scale(1.35) rotate(6deg); opacity: 1; } 100% { transform: scale(1); } }
@keyframes glow { 0%, 100% { filter: drop-shadow(0 0 0 rgba(255, 214, 77, 0)); } 50% { filter: drop-shadow(0 0 36px rgba(255, 214, 77, .9)); } }
@keyframes spin { from { transform: rotate(0); } to { transform: rotate(360deg); } }
@keyframes pulse { 0%, 100% { transform: scale(1); } 50% { transform: scale(1.14); } }
@keyframes rise { from { transform: translateY(520px) scale(.6); opacity: 0; } to { transform: none; opacity: 1; } }
@keyframes bump { 0% { transform: scale(1); } 40% { transform: scale(1.6); } 100% { transform: scale(1); } }
.goal { position: absolute; left: 200px; right: 200px; bottom: 70px; }
.goal-line { display: flex; justify-content: space-between; gap: 24px; margin-bottom: 12px; font-size: 36px; }
.goal-count { color: #ffd84d; font-variant-numeric: tabular-nums; }
.bar {
  height: 40px; border-radius: 20px; overflow: hidden;
  background: rgba(0, 0, 0, .55); border: 4px solid #fff; box-shadow: 0 6px 18px rgba(0, 0, 0, .5);
}
.fill { width: 0; height: 100%; background: linear-gradient(90deg, #7b5cff, #ff5fa8); transition: width .9s cubic-bezier(.2, .9, .3, 1); }
.goal.reached .fill { background: linear-gradient(90deg, #27c281, #9df25a); }
@media (prefers-reduced-motion: reduce) {
  .art, .alert.in, .alert.out, .combo.bump { animation: none !important; }
  .fill { transition: none; }
}
`;
