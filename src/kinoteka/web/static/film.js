// The film page: the animated preview plays over the poster while it is hovered or focused,
// loaded only then (it weighs more than the whole page).
for (const box of document.querySelectorAll(".film-poster[data-preview]")) {
  const poster = box.querySelector("img");
  if (!poster) continue;
  const still = poster.src;
  const show = () => { poster.src = box.dataset.preview; box.classList.add("previewing"); };
  const hide = () => { poster.src = still; box.classList.remove("previewing"); };
  box.addEventListener("pointerenter", show);
  box.addEventListener("pointerleave", hide);
  const play = document.querySelector(".button.play");
  if (play) {
    play.addEventListener("focus", show);
    play.addEventListener("blur", hide);
  }
}
