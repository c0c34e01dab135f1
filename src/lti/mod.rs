//! LTI 1.3 Advantage, tool side: the QVT module and the DU's teaching opened from a
//! university's or school's LMS (Moodle…), with the LMS's users and courses linked to ours
//! and grades sent back. An organisation's admins register their platform ([`platforms`], by the API in
//! [`routes`] or their page, or let it register us by itself: [`registration`]);
//! launches are verified and linked in [`launch`]; deep linking lets a teacher place a
//! course ([`deep_linking`]); grades go through an outbox ([`grades`]); rosters come in by NRPS ([`roster`]); what we ask of
//! platforms over HTTP is in [`client`]; framing by the launching platform in [`frame`], from
//! the origins of [`origins`].

pub mod client;
pub mod deep_linking;
pub mod frame;
pub mod grades;
pub mod launch;
pub mod model;
pub mod origins;
pub mod platforms;
pub mod registration;
pub mod roster;
pub mod routes;
pub mod store;
