// Light interactivity only: show the promise fields when the outcome is a promise to pay.
document.addEventListener('DOMContentLoaded', () => {
  const outcome = document.getElementById('outcome');
  const ptp = document.getElementById('ptp-fields');
  if (outcome && ptp) {
    const sync = () => { ptp.hidden = outcome.value !== 'promise_to_pay'; };
    outcome.addEventListener('change', sync);
    sync();
  }
});
