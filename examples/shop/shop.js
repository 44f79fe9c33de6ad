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
});
