// "Copy link" beside a problem's stable address (book/_ext/worked_book.py): copies the address
// as an absolute URL. The button stays hidden where this script does not run.
document.querySelectorAll("button.problem-link-copy").forEach((button) => {
  const link = button.parentElement.querySelector("a.problem-link-address");
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(link.href);
      button.textContent = "Copied";
    } catch (error) {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy link"; }, 2000);
  });
});
