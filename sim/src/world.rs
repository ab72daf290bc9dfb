//! The population: items (category, shop, brand, price, popularity, latent vector) and
//! users (profile, latent vector, personal biases), all derived from the seed alone.
//! Items are built once and shared; a user is rebuilt from its own random stream by
//! whichever shard owns it, so no output depends on how users are split.

use crate::config::SimConfig;
use crate::rng::Rng;

/// Stream labels, so that no two purposes share random numbers.
pub(crate) mod stream {
    pub const ITEMS: u64 = 1;
    pub const CATEGORIES: u64 = 2;
    pub const USER_PROFILE: u64 = 3;
    pub const USER_BEHAVIOUR: u64 = 4;
    pub const MESS: u64 = 5;
}

/// One item.
#[derive(Debug, Clone)]
pub struct Item {
    pub category: u32,
    pub shop: u32,
    pub brand: u32,
    pub price: f64,
    /// log(price) standardized within the world.
    pub price_z: f64,
    /// Popularity on the logit scale (standard normal).
    pub popularity: f64,
}

/// Every item, with what the recommender and search need to find them.
#[derive(Debug)]
pub struct Catalog {
    pub items: Vec<Item>,
    /// Latent vectors, `latent_dim` per item, scaled so that user·item/sqrt(dim) is
    /// about standard normal.
    pub vectors: Vec<f32>,
    pub dim: usize,
    /// Cumulative popularity weights, for sampling feed candidates.
    pub popularity_cdf: Vec<f64>,
    /// Item indices of each category, most popular first.
    pub by_category: Vec<Vec<u32>>,
}

/// Each category's centroid (`latent_dim` values each), mean log price, and the
/// cumulative weights categories are drawn with; from the categories' own stream.
fn categories(cfg: &SimConfig) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let dim = cfg.latent_dim;
    let mut crng = Rng::new(cfg.seed, &[stream::CATEGORIES]);
    // category centroids on the sphere of radius sqrt(dim): every category is as
    // distinctive as any other, so a world's rates do not hinge on its seed
    let mut centroids: Vec<f64> = (0..cfg.categories as usize * dim)
        .map(|_| crng.normal())
        .collect();
    for c in centroids.chunks_mut(dim) {
        let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-9);
        c.iter_mut().for_each(|x| *x *= (dim as f64).sqrt() / norm);
    }
    let mean_log_price: Vec<f64> = (0..cfg.categories)
        .map(|_| 2.5 + 1.2 * crng.normal())
        .collect();
    // category sizes follow a power law: category k gets weight 1/(k+1)^0.8
    let cat_cdf: Vec<f64> = (0..cfg.categories)
        .scan(0.0, |acc, k| {
            *acc += 1.0 / ((k + 1) as f64).powf(0.8);
            Some(*acc)
        })
        .collect();
    (centroids, mean_log_price, cat_cdf)
}

impl Catalog {
    pub fn build(cfg: &SimConfig) -> Catalog {
        let dim = cfg.latent_dim;
        let (centroids, mean_log_price, cat_cdf) = categories(cfg);
        let mut rng = Rng::new(cfg.seed, &[stream::ITEMS]);
        let n = cfg.items as usize;
        let mut items = Vec::with_capacity(n);
        let mut vectors = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let category = rng.from_cdf(&cat_cdf) as u32;
            let c = &centroids[category as usize * dim..(category as usize + 1) * dim];
            for &cj in c {
                vectors.push((0.8 * cj + 0.6 * rng.normal()) as f32);
            }
            let log_price = mean_log_price[category as usize] + 0.5 * rng.normal();
            items.push(Item {
                category,
                shop: rng.index(cfg.shops as usize) as u32,
                brand: rng.index(cfg.brands as usize) as u32,
                price: (log_price.exp() * 100.0).round() / 100.0,
                price_z: log_price,
                popularity: rng.normal(),
            });
        }
        let mean = items.iter().map(|i| i.price_z).sum::<f64>() / n as f64;
        let sd = (items
            .iter()
            .map(|i| (i.price_z - mean).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt()
            .max(1e-9);
        for item in &mut items {
            item.price_z = (item.price_z - mean) / sd;
        }
        let weights = zipf_weights(cfg, &items);
        let popularity_cdf = items
            .iter()
            .enumerate()
            .scan(0.0, |acc, (i, item)| {
                *acc += weights
                    .as_ref()
                    .map_or_else(|| item.popularity.exp(), |w| w[i]);
                Some(*acc)
            })
            .collect();
        let mut by_category = vec![Vec::new(); cfg.categories as usize];
        for (i, item) in items.iter().enumerate() {
            by_category[item.category as usize].push(i as u32);
        }
        for list in &mut by_category {
            list.sort_by(|&a, &b| {
                items[b as usize]
                    .popularity
                    .total_cmp(&items[a as usize].popularity)
            });
        }
        Catalog {
            items,
            vectors,
            dim,
            popularity_cdf,
            by_category,
        }
    }

    pub fn vector(&self, item: usize) -> &[f32] {
        &self.vectors[item * self.dim..(item + 1) * self.dim]
    }
}

/// The sparsity mechanism: with `mechanisms.item_zipf` = α > 0, the item of popularity
/// rank r (1 = the most popular) gets feed-candidate weight r^-α instead of
/// exp(popularity): the same order, a Zipf tail. Popularity itself (its click-logit and
/// recommender terms) is unchanged. `None` when the knob is off.
fn zipf_weights(cfg: &SimConfig, items: &[Item]) -> Option<Vec<f64>> {
    let alpha = cfg.mechanisms.item_zipf;
    if alpha == 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[b].popularity.total_cmp(&items[a].popularity));
    let mut weights = vec![0.0; items.len()];
    for (rank, &i) in order.iter().enumerate() {
        weights[i] = ((rank + 1) as f64).powf(-alpha);
    }
    Some(weights)
}

/// One user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub age_bucket: i32,
    pub gender: i32,
    pub city: i32,
    pub purchase_power: i32,
    pub vector: Vec<f32>,
    /// Personal click and purchase propensities (logit offsets).
    pub click_bias: f64,
    pub buy_bias: f64,
    /// Mean visits a day.
    pub activity: f64,
}

impl User {
    /// User `id` (1-based) of the world.
    pub fn build(cfg: &SimConfig, id: u64) -> User {
        let mut rng = Rng::new(cfg.seed, &[stream::USER_PROFILE, id]);
        let purchase_power = 1 + rng.index(5) as i32;
        User {
            id,
            age_bucket: rng.index(7) as i32,
            gender: rng.index(3) as i32,
            city: rng.index(50) as i32,
            purchase_power,
            vector: (0..cfg.latent_dim).map(|_| rng.normal() as f32).collect(),
            click_bias: 0.5 * rng.normal(),
            buy_bias: 0.5 * rng.normal() + 0.15 * (purchase_power - 3) as f64,
            activity: rng.gamma_int(2, cfg.behaviour.visits_per_day),
        }
    }

    /// The latent match with an item, about standard normal over random pairs.
    pub fn affinity(&self, catalog: &Catalog, item: usize) -> f64 {
        let v = catalog.vector(item);
        let dot: f32 = self.vector.iter().zip(v).map(|(a, b)| a * b).sum();
        dot as f64 / (catalog.dim as f64).sqrt()
    }
}
