// The shop page's own script: when the fan has paid, hand the receipt to the shop's backend,
// which verifies it before it thanks anyone. Nothing here is trusted by the backend.
const checkout = document.querySelector('diamond-checkout');
const thanks = document.querySelector('#thanks');

checkout.addEventListener('diamond-paid', async (event) => {
  thanks.textContent = 'Checking the payment…';
  const response = await fetch('/thank-you', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ orderId: event.detail.id, receipt: event.detail.receipt }),
  });
  const body = await response.json();
  thanks.textContent = response.ok ? body.message : `Sorry: ${body.error}`;
  if (response.ok) await showConfirmation(event.detail.id);
});

/** Waits (up to a minute) until the backend heard of the payment from Diamonds itself, by webhook. */
async function showConfirmation(orderId) {
  const confirmed = document.querySelector('#confirmed');
  for (let tries = 0; tries < 120; tries++) {
    const response = await fetch(`/orders/${encodeURIComponent(orderId)}/status`, { cache: 'no-store' });
    const state = response.ok ? await response.json() : undefined;
    if (state?.learned.some((entry) => entry.source === 'webhook' && entry.status === 'paid')) {
      confirmed.textContent = 'Diamonds confirmed the payment to the shop: your order is on its way.';
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
